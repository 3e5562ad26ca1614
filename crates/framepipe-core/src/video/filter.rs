//! Filters for readers and writers: FFmpeg filters run by libavfilter itself (the
//! `fpavfilter` element of framepipe's plugin, see [`super::avfilter`]) and GStreamer
//! launch fragments, as one bin with one input and one output.
//!
//! A string is classified as follows ([`Filter::from_string`]):
//! - it contains `!`: a GStreamer fragment (`"videoflip video-direction=90r ! videoscale"`);
//! - it starts with `[` (a graph label): FFmpeg;
//! - its first word names a libavfilter filter and is followed by `=`, `,`, `;`, `[` or
//!   nothing (`"scale=iw/2:-1"`, `"hflip,vflip"`, `"split[a][b];[a][b]overlay"`): FFmpeg,
//!   except a lone name GStreamer also has (`"identity"`), which stays GStreamer as before;
//! - anything else (`"videobalance saturation=0"`, `"video/x-raw,width=320"`): GStreamer.
//!
//! FFmpeg puts no space between a filter and its `=`, and GStreamer always does between an
//! element and its properties, so the two syntaxes do not overlap.
//!
//! A sequence of `(name, params)` (imageio's `filter_sequence`) becomes one FFmpeg chain
//! (`"scale=512:-1,hflip"`); an entry whose name libavfilter lacks but GStreamer has
//! (`("videobalance", {"saturation": "0.5"})`) is a GStreamer element between the FFmpeg
//! runs. A `(nodes, edges)` graph (imageio's `filter_graph`) becomes one FFmpeg graph with
//! labelled links. Parameters reach each filter exactly as PyAV passes them: a string
//! verbatim, a dict as `key=value` pairs.

use gst::prelude::*;

use super::avfilter::{self, escape_graph, escape_option};
use crate::{Error, Result};

/// One filter of a sequence: FFmpeg's `(name, params)`. Parameters are positional (`None`
/// key) or named, as FFmpeg's "512:-1" or "x=25:y=25" spell them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    pub name: String,
    pub params: Vec<(Option<String>, String)>,
    /// The argument string the filter is initialised with, exactly as given ("512:-1",
    /// "x=25:y=25:enable='between(t,1,8)'"), or built from named pairs.
    pub args: String,
}

impl FilterSpec {
    /// A filter with parameters in FFmpeg's string syntax ("512:-1", "w=320:h=240",
    /// "x=25:y=25:enable='between(t,1,8)'").
    pub fn new(name: &str, params: &str) -> FilterSpec {
        FilterSpec { name: name.to_string(), params: split_params(params), args: params.to_string() }
    }

    /// A filter with named parameters (a Python dict).
    pub fn with_pairs<K: AsRef<str>, V: AsRef<str>>(name: &str, pairs: impl IntoIterator<Item = (K, V)>) -> FilterSpec {
        let params: Vec<(Option<String>, String)> =
            pairs.into_iter().map(|(k, v)| (Some(k.as_ref().to_string()), v.as_ref().to_string())).collect();
        let args = params
            .iter()
            .map(|(k, v)| format!("{}={}", k.as_deref().unwrap_or_default(), escape_option(v)))
            .collect::<Vec<_>>()
            .join(":");
        FilterSpec { name: name.to_string(), params, args }
    }

    /// This filter in FFmpeg's graph syntax ("scale=512\:-1" style escaping included).
    pub fn ffmpeg(&self) -> String {
        if self.args.trim().is_empty() {
            self.name.clone()
        } else {
            format!("{}={}", self.name, escape_graph(&self.args))
        }
    }
}

/// FFmpeg's `(nodes, edges)` filter graph. The graph's input is the node "video_in" and
/// its output "video_out".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterGraph {
    pub nodes: Vec<(String, FilterSpec)>,
    pub edges: Vec<GraphEdge>,
}

/// A link from output pad `from_pad` of node `from` to input pad `to_pad` of node `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphEdge {
    pub from: String,
    pub to: String,
    pub from_pad: u32,
    pub to_pad: u32,
}

/// A video filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filter {
    /// A GStreamer launch fragment: "videoflip video-direction=90r ! videoscale ! video/x-raw,width=320".
    Launch(String),
    /// FFmpeg-style filter sequence.
    Sequence(Vec<FilterSpec>),
    /// FFmpeg-style filter graph.
    Graph(FilterGraph),
    /// An FFmpeg filter string or graph description, run by libavfilter ("scale=iw/2:-1,hflip").
    Ffmpeg(String),
}

/// Filters that give exactly one frame, with the same timestamp, for each frame in: a graph
/// of these keeps the source's frame index valid. Anything else (fps, framestep, trim,
/// tpad, select, setpts, palettegen, ...) may change the frame count.
const ONE_TO_ONE: &[&str] = &[
    "null",
    "copy",
    "scale",
    "crop",
    "pad",
    "hflip",
    "vflip",
    "transpose",
    "rotate",
    "format",
    "setsar",
    "setdar",
    "setparams",
    "drawgrid",
    "drawbox",
    "drawtext",
    "eq",
    "hue",
    "negate",
    "lut",
    "lutrgb",
    "lutyuv",
    "boxblur",
    "gblur",
    "avgblur",
    "smartblur",
    "unsharp",
    "colorchannelmixer",
    "colorbalance",
    "colorlevels",
    "curves",
    "edgedetect",
    "split",
    "overlay",
    "hqdn3d",
    "deband",
    "vignette",
    "noise",
    "sobel",
    "swapuv",
    "geq",
    "convolution",
    "chromakey",
    "colorkey",
    "colorspace",
    "zscale",
    "pixdesctest",
    "alphaextract",
    "alphamerge",
    "colormatrix",
    "vibrance",
    "monochrome",
    "exposure",
    "grayworld",
    "fillborders",
    "shuffleplanes",
    "swaprect",
    "lenscorrection",
    "perspective",
    "unpremultiply",
    "premultiply",
    "sharpen",
    "cas",
    "median",
    "maskfun",
];

/// A run of the filter: GStreamer elements or one libavfilter graph.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Gst(String),
    Av(String),
}

impl Filter {
    /// A filter string classified as FFmpeg or GStreamer syntax (see the module docs).
    pub fn from_string(s: &str) -> Filter {
        let t = s.trim();
        if is_ffmpeg_syntax(t) { Filter::Ffmpeg(t.to_string()) } else { Filter::Launch(t.to_string()) }
    }

    /// The runs of this filter, each checked (an FFmpeg run is parsed by libavfilter).
    fn parts(&self) -> Result<Vec<Part>> {
        let parts = match self {
            Filter::Launch(s) => {
                if s.trim().is_empty() {
                    return Err(Error::Value("empty filter".into()));
                }
                vec![Part::Gst(s.clone())]
            }
            Filter::Ffmpeg(s) => {
                if s.trim().is_empty() {
                    return Err(Error::Value("empty filter".into()));
                }
                vec![Part::Av(s.clone())]
            }
            Filter::Sequence(specs) => {
                if specs.is_empty() {
                    return Err(Error::Value("empty filter sequence".into()));
                }
                let mut parts: Vec<Part> = Vec::new();
                for spec in specs {
                    if avfilter::has_filter(&spec.name) {
                        match parts.last_mut() {
                            Some(Part::Av(chain)) => {
                                chain.push(',');
                                chain.push_str(&spec.ffmpeg());
                            }
                            _ => parts.push(Part::Av(spec.ffmpeg())),
                        }
                    } else {
                        parts.push(Part::Gst(gst_element(spec)?));
                    }
                }
                parts
            }
            Filter::Graph(g) => vec![Part::Av(graph_description(g)?)],
        };
        for p in &parts {
            if let Part::Av(desc) = p {
                avfilter::filter_names(desc)?;
            }
        }
        Ok(parts)
    }

    /// The FFmpeg graph description of an FFmpeg string, sequence or graph (`None` for a
    /// GStreamer fragment or a sequence that uses GStreamer elements).
    pub fn ffmpeg_description(&self) -> Result<Option<String>> {
        Ok(match self.parts()?.as_slice() {
            [Part::Av(d)] => Some(d.clone()),
            _ => None,
        })
    }

    /// The filter as a gst-launch description (FFmpeg parts as `fpavfilter graph="..."`).
    /// Checks the filter: a description libavfilter cannot parse fails with
    /// [`Error::Parse`]. `input` (the frame size entering the filter) is not needed any more.
    pub fn to_launch(&self, _input: Option<(u32, u32)>) -> Result<String> {
        let parts = self.parts()?;
        Ok(parts
            .iter()
            .map(|p| match p {
                Part::Gst(s) => s.clone(),
                Part::Av(d) => format!("fpavfilter graph=\"{}\"", d.replace('\\', "\\\\").replace('"', "\\\"")),
            })
            .collect::<Vec<_>>()
            .join(" ! "))
    }

    /// Whether the filter can change the number of frames (or their timestamps), which
    /// makes source frame indices meaningless for its output.
    pub fn changes_frame_count(&self, _input: Option<(u32, u32)>) -> bool {
        let Ok(parts) = self.parts() else { return false };
        parts.iter().any(|p| match p {
            Part::Gst(s) => s.contains("videorate"),
            Part::Av(d) => match avfilter::filter_names(d) {
                Ok(names) => names.iter().any(|n| !ONE_TO_ONE.contains(&n.as_str())),
                Err(_) => true,
            },
        })
    }

    /// The filter as a bin with one sink and one source ghost pad. FFmpeg parts are
    /// `fpavfilter` elements, which must be registered (`import framepipe` or
    /// `gstframepipe::register_static()`).
    pub fn to_bin(&self, _input: Option<(u32, u32)>) -> Result<gst::Bin> {
        let parts = self.parts()?;
        let bin = gst::Bin::new();
        let mut elements: Vec<gst::Element> = Vec::new();
        for part in &parts {
            let element: gst::Element = match part {
                Part::Gst(s) => {
                    // Identities at both ends let a fragment start or end with caps.
                    let launch = format!("identity ! {s} ! identity");
                    let mut ctx = gst::ParseContext::new();
                    let inner = gst::parse::bin_from_description_full(
                        &launch,
                        true,
                        Some(&mut ctx),
                        gst::ParseFlags::FATAL_ERRORS,
                    )
                    .map_err(|e| {
                        let missing = ctx.missing_elements();
                        let token = missing.first().map(|s| s.to_string());
                        Error::Parse { message: format!("bad filter {s:?}: {}", e.message()), token }
                    })?;
                    if inner.static_pad("sink").is_none() || inner.static_pad("src").is_none() {
                        return Err(Error::Value(format!(
                            "filter {s:?} must have exactly one free input and one free output"
                        )));
                    }
                    inner
                }
                Part::Av(d) => gst::ElementFactory::make("fpavfilter").property("graph", d).build().map_err(|_| {
                    Error::Gst(
                        "the fpavfilter element is not registered (import framepipe, or call \
                         gstframepipe::register_static())"
                            .into(),
                    )
                })?,
            };
            elements.push(element);
        }
        bin.add_many(&elements)?;
        gst::Element::link_many(&elements)?;
        let first = elements.first().and_then(|e| e.static_pad("sink"));
        let last = elements.last().and_then(|e| e.static_pad("src"));
        let (Some(first), Some(last)) = (first, last) else {
            return Err(Error::Value("the filter has no input or no output".into()));
        };
        bin.add_pad(&gst::GhostPad::builder_with_target(&first)?.name("sink").build())?;
        bin.add_pad(&gst::GhostPad::builder_with_target(&last)?.name("src").build())?;
        Ok(bin)
    }
}

/// Whether `s` is written in FFmpeg's filter syntax rather than as a GStreamer fragment.
fn is_ffmpeg_syntax(s: &str) -> bool {
    if s.contains('!') {
        return false;
    }
    if s.starts_with('[') {
        return true;
    }
    let end = s.find(|c: char| matches!(c, '=' | ',' | ';' | '[') || c.is_whitespace()).unwrap_or(s.len());
    let (name, rest) = s.split_at(end);
    if name.is_empty() || !avfilter::has_filter(name) {
        return false;
    }
    match rest.chars().next() {
        None => gst::ElementFactory::find(name).is_none(),
        Some(c) => matches!(c, '=' | ',' | ';' | '['),
    }
}

/// A sequence entry that names a GStreamer element, with its parameters as properties.
fn gst_element(spec: &FilterSpec) -> Result<String> {
    let name = spec.name.as_str();
    // glib would panic on a NUL byte in the name.
    let found = if name.contains('\0') { None } else { gst::ElementFactory::find(name) };
    let factory = found.ok_or_else(|| Error::Parse {
        message: format!("unknown filter {name:?}: neither an FFmpeg filter nor a GStreamer element"),
        token: Some(name.to_string()),
    })?;
    let mut s = factory.name().to_string();
    for (k, v) in &spec.params {
        let Some(k) = k else {
            return Err(Error::Value(format!("{name}: GStreamer elements take named parameters, got {v:?}")));
        };
        s.push_str(&format!(" {k}={}", quote_value(v)));
    }
    Ok(s)
}

fn quote_value(v: &str) -> String {
    if v.chars().any(|c| c.is_whitespace() || c == '!' || c == ',') { format!("\"{v}\"") } else { v.to_string() }
}

/// Splits FFmpeg's "a:b:k=v" parameter syntax, keeping quoted parts (with ':' inside) whole.
fn split_params(params: &str) -> Vec<(Option<String>, String)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote = false;
    let mut push = |cur: &mut String| {
        let item = std::mem::take(cur);
        if item.is_empty() {
            return;
        }
        match item.split_once('=') {
            Some((k, v)) => out.push((Some(k.trim().to_string()), v.trim().trim_matches('\'').to_string())),
            None => out.push((None, item.trim().trim_matches('\'').to_string())),
        }
    };
    for c in params.chars() {
        match c {
            '\'' => {
                quote = !quote;
                cur.push(c);
            }
            ':' if !quote => push(&mut cur),
            _ => cur.push(c),
        }
    }
    push(&mut cur);
    out
}

/// imageio's `(nodes, edges)` graph as an FFmpeg graph description: every edge is a
/// labelled link, "video_in" reads the graph input `[in]` and "video_out" writes `[out]`
/// (each through a `null` filter, so a node may have both ends).
fn graph_description(graph: &FilterGraph) -> Result<String> {
    const ENDS: [&str; 2] = ["video_in", "video_out"];
    // Nodes named video_in / video_out are replaced by the ends, as PyAV does.
    let nodes: Vec<&(String, FilterSpec)> = graph.nodes.iter().filter(|(n, _)| !ENDS.contains(&n.as_str())).collect();
    let known = |n: &str| ENDS.contains(&n) || nodes.iter().any(|(k, _)| k == n);
    for e in &graph.edges {
        for n in [&e.from, &e.to] {
            if !known(n) {
                return Err(Error::Value(format!("filter graph edge names unknown node {n:?}")));
            }
        }
    }
    if !graph.edges.iter().any(|e| e.from == "video_in") || !graph.edges.iter().any(|e| e.to == "video_out") {
        return Err(Error::Value("a filter graph needs edges from \"video_in\" and to \"video_out\"".into()));
    }
    // Pads of a node as labels in pad order; a gap cannot be written in FFmpeg's syntax.
    let labels = |node: &str, outgoing: bool| -> Result<String> {
        let mut pads: Vec<(u32, usize)> = graph
            .edges
            .iter()
            .enumerate()
            .filter(|(_, e)| if outgoing { e.from == node } else { e.to == node })
            .map(|(i, e)| (if outgoing { e.from_pad } else { e.to_pad }, i))
            .collect();
        pads.sort();
        for (want, (pad, _)) in pads.iter().enumerate() {
            if *pad != want as u32 {
                let side = if outgoing { "output" } else { "input" };
                return Err(Error::Value(format!(
                    "filter graph node {node:?}: {side} pad {want} is not linked (pads are linked from 0 up)"
                )));
            }
        }
        Ok(pads.iter().map(|(_, i)| format!("[fp{i}]")).collect())
    };
    let mut chains = vec![format!("[in]null{}", labels("video_in", true)?)];
    for (name, spec) in &nodes {
        let (inputs, outputs) = (labels(name, false)?, labels(name, true)?);
        if inputs.is_empty() && outputs.is_empty() {
            return Err(Error::Value(format!("filter graph node {name:?} is not connected")));
        }
        chains.push(format!("{inputs}{}{outputs}", spec.ffmpeg()));
    }
    chains.push(format!("{}null[out]", labels("video_out", false)?));
    Ok(chains.join(";"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pip() -> FilterGraph {
        FilterGraph {
            nodes: vec![
                ("split".into(), FilterSpec::new("split", "")),
                ("scale_overlay".into(), FilterSpec::new("scale", "64:-1")),
                ("overlay".into(), FilterSpec::new("overlay", "x=25:y=25:enable='between(t,1,8)'")),
            ],
            edges: vec![
                GraphEdge { from: "video_in".into(), to: "split".into(), from_pad: 0, to_pad: 0 },
                GraphEdge { from: "split".into(), to: "overlay".into(), from_pad: 0, to_pad: 0 },
                GraphEdge { from: "split".into(), to: "scale_overlay".into(), from_pad: 1, to_pad: 0 },
                GraphEdge { from: "scale_overlay".into(), to: "overlay".into(), from_pad: 0, to_pad: 1 },
                GraphEdge { from: "overlay".into(), to: "video_out".into(), from_pad: 0, to_pad: 0 },
            ],
        }
    }

    #[test]
    fn sequences_become_one_ffmpeg_chain() {
        gst::init().unwrap();
        let seq = Filter::Sequence(vec![
            FilterSpec::new("scale", "iw/2:-1"),
            FilterSpec::new("hflip", ""),
            FilterSpec::with_pairs("rotate", [("angle", "PI/2"), ("fillcolor", "AliceBlue")]),
            FilterSpec::with_pairs("videobalance", [("saturation", "0.5")]),
            FilterSpec::new("fps", "15"),
        ]);
        assert_eq!(
            seq.to_launch(None).unwrap(),
            "fpavfilter graph=\"scale=iw/2:-1,hflip,rotate=angle=PI/2:fillcolor=AliceBlue\" ! \
             videobalance saturation=0.5 ! fpavfilter graph=\"fps=15\""
        );
        assert!(seq.changes_frame_count(None));
        let plain = Filter::Sequence(vec![FilterSpec::new("scale", "32:24"), FilterSpec::new("drawgrid", "w=8")]);
        assert!(!plain.changes_frame_count(None));
        assert!(Filter::from_string("framestep=2").changes_frame_count(None));
        assert!(matches!(
            Filter::Sequence(vec![FilterSpec::new("nosuchfilter", "")]).to_launch(None),
            Err(Error::Parse { .. })
        ));
    }

    #[test]
    fn strings_are_classified() {
        gst::init().unwrap();
        for s in ["scale=iw/2:-1", "hflip", "hflip,vflip", "[in]split[a][b];[a][b]overlay[out]", "drawgrid=w=8:h=8"] {
            assert!(matches!(Filter::from_string(s), Filter::Ffmpeg(_)), "{s}");
        }
        for s in [
            "videoflip video-direction=90r ! videoscale",
            "videobalance saturation=0",
            "video/x-raw,width=32",
            "identity",
            "rotate angle=0.5",
        ] {
            assert!(matches!(Filter::from_string(s), Filter::Launch(_)), "{s}");
        }
    }

    #[test]
    fn params_split_like_ffmpeg() {
        let p = split_params("x=25:y=25:enable='between(t,1,8)'");
        assert_eq!(p[2], (Some("enable".into()), "between(t,1,8)".into()));
        assert_eq!(split_params("512:-1"), vec![(None, "512".into()), (None, "-1".into())]);
    }

    #[test]
    fn picture_in_picture_graph_is_ffmpeg() {
        gst::init().unwrap();
        let d = Filter::Graph(pip()).ffmpeg_description().unwrap().unwrap();
        assert_eq!(
            d,
            "[in]null[fp0];[fp0]split[fp1][fp2];[fp2]scale=64:-1[fp3];\
             [fp1][fp3]overlay=x=25:y=25:enable=\\'between(t\\,1\\,8)\\'[fp4];[fp4]null[out]"
        );
        assert_eq!(avfilter::filter_names(&d).unwrap(), ["null", "split", "scale", "overlay", "null"]);
        let mut bad = pip();
        bad.edges[2].from_pad = 2;
        assert!(matches!(Filter::Graph(bad).ffmpeg_description(), Err(Error::Value(_))));
    }
}
