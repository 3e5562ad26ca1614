//! Filters for readers and writers, mapped onto GStreamer: a launch fragment, a sequence of
//! (name, params) where the name is a GStreamer element or one of FFmpeg's scale, crop,
//! hflip, vflip, transpose, fps, rotate and format, or a small graph (FFmpeg's split,
//! overlay and scale as tee, compositor and videoscale).
//!
//! Flips and rotations use videoflip's `video-direction`: its `method` property is ignored
//! by GStreamer 1.22.0.

use std::fmt::Write as _;

use gst::prelude::*;

use crate::{Error, Result};

/// One filter of a sequence: FFmpeg's `(name, params)`. Parameters are positional (`None`
/// key) or named, as FFmpeg's "512:-1" or "x=25:y=25" spell them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    pub name: String,
    pub params: Vec<(Option<String>, String)>,
}

impl FilterSpec {
    /// A filter with parameters in FFmpeg's string syntax ("512:-1", "w=320:h=240",
    /// "x=25:y=25:enable='between(t,1,8)'").
    pub fn new(name: &str, params: &str) -> FilterSpec {
        FilterSpec { name: name.to_string(), params: split_params(params) }
    }

    /// A filter with named parameters (a Python dict).
    pub fn with_pairs<K: AsRef<str>, V: AsRef<str>>(name: &str, pairs: impl IntoIterator<Item = (K, V)>) -> FilterSpec {
        FilterSpec {
            name: name.to_string(),
            params: pairs.into_iter().map(|(k, v)| (Some(k.as_ref().to_string()), v.as_ref().to_string())).collect(),
        }
    }

    /// The i-th positional parameter or the one named by any of `names`.
    fn param(&self, i: usize, names: &[&str]) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.as_deref().is_some_and(|k| names.contains(&k)))
            .or_else(|| self.params.iter().filter(|(k, _)| k.is_none()).nth(i))
            .map(|(_, v)| v.as_str())
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
}

/// Frame size known while a sequence is translated, for FFmpeg expressions ("iw/2") and
/// crops given as w:h:x:y.
#[derive(Debug, Clone, Copy)]
struct Size {
    w: Option<i64>,
    h: Option<i64>,
}

impl Filter {
    /// The GStreamer launch fragment this filter stands for. `input` is the size of the
    /// frames entering it, when known (needed for FFmpeg crops given as w:h:x:y and for
    /// expressions such as "iw/2").
    pub fn to_launch(&self, input: Option<(u32, u32)>) -> Result<String> {
        let size = Size { w: input.map(|s| s.0 as i64), h: input.map(|s| s.1 as i64) };
        match self {
            Filter::Launch(s) => {
                if s.trim().is_empty() {
                    return Err(Error::Value("empty filter".into()));
                }
                Ok(s.clone())
            }
            Filter::Sequence(specs) => {
                if specs.is_empty() {
                    return Err(Error::Value("empty filter sequence".into()));
                }
                let mut size = size;
                let parts = specs.iter().map(|s| spec_launch(s, &mut size)).collect::<Result<Vec<_>>>()?;
                Ok(parts.join(" ! "))
            }
            Filter::Graph(g) => graph_launch(g, size),
        }
    }

    /// Whether the filter can change the number of frames (a frame-rate change), which
    /// makes source frame indices meaningless for its output.
    pub fn changes_frame_count(&self, input: Option<(u32, u32)>) -> bool {
        self.to_launch(input).is_ok_and(|l| l.contains("videorate"))
    }

    /// The filter as a bin with one sink and one source ghost pad.
    pub fn to_bin(&self, input: Option<(u32, u32)>) -> Result<gst::Bin> {
        let launch = match self {
            // Identities at both ends let a fragment start or end with caps.
            Filter::Graph(_) => self.to_launch(input)?,
            _ => format!("identity ! {} ! identity", self.to_launch(input)?),
        };
        let mut ctx = gst::ParseContext::new();
        let bin = gst::parse::bin_from_description_full(&launch, true, Some(&mut ctx), gst::ParseFlags::FATAL_ERRORS)
            .map_err(|e| {
                let missing = ctx.missing_elements();
                let token = missing.first().map(|s| s.to_string());
                Error::Parse { message: format!("bad filter {launch:?}: {}", e.message()), token }
            })?
            .downcast::<gst::Bin>()
            .map_err(|_| Error::Gst("the filter did not parse to a bin".into()))?;
        if bin.static_pad("sink").is_none() || bin.static_pad("src").is_none() {
            return Err(Error::Value(format!(
                "filter {launch:?} must have exactly one free input and one free output"
            )));
        }
        Ok(bin)
    }
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

/// Evaluates FFmpeg size expressions: a number, "iw", "ih", or one of those with a single
/// `*`, `/`, `+` or `-` and a number ("iw/2").
fn eval_dim(expr: &str, size: Size) -> Result<i64> {
    let expr = expr.trim();
    let atom = |s: &str| -> Result<f64> {
        match s.trim() {
            "iw" | "in_w" => size.w.map(|v| v as f64),
            "ih" | "in_h" => size.h.map(|v| v as f64),
            n => n.parse::<f64>().ok(),
        }
        .ok_or_else(|| Error::Value(format!("cannot evaluate {s:?} in filter expression {expr:?}")))
    };
    for op in ['*', '/', '+'] {
        if let Some((a, b)) = expr.split_once(op) {
            let (a, b) = (atom(a)?, atom(b)?);
            let v = match op {
                '*' => a * b,
                '/' if b != 0.0 => a / b,
                '+' => a + b,
                _ => return Err(Error::Value(format!("division by zero in {expr:?}"))),
            };
            return Ok(v.round() as i64);
        }
    }
    if let Some((a, b)) = expr.strip_prefix('-').map_or(expr.split_once('-'), |_| None) {
        return Ok((atom(a)? - atom(b)?).round() as i64);
    }
    Ok(atom(expr)?.round() as i64)
}

fn direction(dir: &str) -> String {
    format!("videoflip video-direction={dir}")
}

fn spec_launch(spec: &FilterSpec, size: &mut Size) -> Result<String> {
    let name = spec.name.as_str();
    Ok(match name {
        "scale" => {
            let w = spec.param(0, &["w", "width"]).map(|v| eval_dim(v, *size)).transpose()?;
            let h = spec.param(1, &["h", "height"]).map(|v| eval_dim(v, *size)).transpose()?;
            let (w, h) = (w.filter(|&v| v > 0), h.filter(|&v| v > 0));
            // FFmpeg's -1 keeps the aspect ratio; compute it when the input size is known.
            let (w, h) = match (w, h, size.w, size.h) {
                (Some(w), None, Some(iw), Some(ih)) => (Some(w), Some(((w * ih) as f64 / iw as f64).round() as i64)),
                (None, Some(h), Some(iw), Some(ih)) => (Some(((h * iw) as f64 / ih as f64).round() as i64), Some(h)),
                other => (other.0, other.1),
            };
            if w.is_none() && h.is_none() {
                return Err(Error::Value("scale needs a width or a height".into()));
            }
            *size = Size { w: w.or(size.w), h: h.or(size.h) };
            let mut caps = String::from("video/x-raw");
            if let Some(w) = w {
                let _ = write!(caps, ",width={w}");
            }
            if let Some(h) = h {
                let _ = write!(caps, ",height={h}");
            }
            if w.is_none() || h.is_none() {
                // Keep the aspect ratio in pixels, not in a changed pixel-aspect-ratio.
                caps.push_str(",pixel-aspect-ratio=1/1");
            }
            format!("videoscale ! {caps}")
        }
        "crop" => {
            let cw = spec.param(0, &["w", "out_w"]).map(|v| eval_dim(v, *size)).transpose()?;
            let ch = spec.param(1, &["h", "out_h"]).map(|v| eval_dim(v, *size)).transpose()?;
            let (Some(iw), Some(ih)) = (size.w, size.h) else {
                return Err(Error::Value("crop needs the input size, which is unknown here".into()));
            };
            let cw = cw.unwrap_or(iw).clamp(1, iw);
            let ch = ch.unwrap_or(ih).clamp(1, ih);
            let x = spec.param(2, &["x"]).map(|v| eval_dim(v, *size)).transpose()?.unwrap_or((iw - cw) / 2);
            let y = spec.param(3, &["y"]).map(|v| eval_dim(v, *size)).transpose()?.unwrap_or((ih - ch) / 2);
            let (x, y) = (x.clamp(0, iw - cw), y.clamp(0, ih - ch));
            *size = Size { w: Some(cw), h: Some(ch) };
            format!("videocrop left={x} top={y} right={} bottom={}", iw - cw - x, ih - ch - y)
        }
        "hflip" => direction("horiz"),
        "vflip" => direction("vert"),
        "transpose" => {
            let dir = match spec.param(0, &["dir"]).unwrap_or("cclock_flip") {
                "0" | "cclock_flip" => "ul-lr",
                "1" | "clock" => "90r",
                "2" | "cclock" => "90l",
                "3" | "clock_flip" => "ur-ll",
                other => return Err(Error::Value(format!("transpose: unknown direction {other:?}"))),
            };
            std::mem::swap(&mut size.w, &mut size.h);
            direction(dir)
        }
        "rotate" => {
            let angle = spec.param(0, &["a", "angle"]).unwrap_or("0");
            let radians = eval_angle(angle)?;
            let quarter = radians / std::f64::consts::FRAC_PI_2;
            if (quarter - quarter.round()).abs() < 1e-9 {
                match (quarter.round() as i64).rem_euclid(4) {
                    0 => "identity".to_string(),
                    1 => {
                        std::mem::swap(&mut size.w, &mut size.h);
                        direction("90r")
                    }
                    2 => direction("180"),
                    _ => {
                        std::mem::swap(&mut size.w, &mut size.h);
                        direction("90l")
                    }
                }
            } else {
                // FFmpeg rotates clockwise for positive angles, GStreamer's rotate the other way.
                format!("videoconvert ! rotate angle={}", -radians)
            }
        }
        "fps" => {
            let rate = spec.param(0, &["fps"]).ok_or_else(|| Error::Value("fps needs a rate".into()))?;
            let frac = parse_rate(rate)?;
            format!("videorate ! video/x-raw,framerate={}/{}", frac.numer(), frac.denom())
        }
        "format" => {
            let fmt = spec.param(0, &["pix_fmts"]).ok_or_else(|| Error::Value("format needs a pixel format".into()))?;
            let gst_fmt = match fmt.split('|').next().unwrap_or(fmt) {
                "rgb24" => "RGB",
                "bgr24" => "BGR",
                "rgba" => "RGBA",
                "bgra" => "BGRA",
                "gray" => "GRAY8",
                "gray16le" => "GRAY16_LE",
                "yuv420p" => "I420",
                "yuv422p" => "Y42B",
                "yuv444p" => "Y444",
                "nv12" => "NV12",
                other => return Err(Error::Value(format!("format: unknown pixel format {other:?}"))),
            };
            format!("videoconvert ! video/x-raw,format={gst_fmt}")
        }
        _ => {
            // A GStreamer element with properties.
            let factory = gst::ElementFactory::find(name).ok_or_else(|| Error::Parse {
                message: format!(
                    "unknown filter {name:?}: not a GStreamer element nor one of scale, crop, hflip, vflip, \
                     transpose, fps, rotate, format"
                ),
                token: Some(name.to_string()),
            })?;
            let mut s = factory.name().to_string();
            for (k, v) in &spec.params {
                let Some(k) = k else {
                    return Err(Error::Value(format!("{name}: GStreamer elements take named parameters, got {v:?}")));
                };
                let _ = write!(s, " {k}={}", quote_value(v));
            }
            if name == "videoflip" || name == "videocrop" || name == "videoscale" {
                // The size after these is not tracked.
                *size = Size { w: None, h: None };
            }
            s
        }
    })
}

fn quote_value(v: &str) -> String {
    if v.chars().any(|c| c.is_whitespace() || c == '!' || c == ',') { format!("\"{v}\"") } else { v.to_string() }
}

fn parse_rate(rate: &str) -> Result<gst::Fraction> {
    let bad = || Error::Value(format!("bad frame rate {rate:?}"));
    match rate.split_once('/') {
        Some((n, d)) => {
            let (n, d) = (n.trim().parse::<i32>().map_err(|_| bad())?, d.trim().parse::<i32>().map_err(|_| bad())?);
            if n <= 0 || d <= 0 {
                return Err(bad());
            }
            Ok(gst::Fraction::new(n, d))
        }
        None => {
            let f = rate.trim().parse::<f64>().map_err(|_| bad())?;
            if !(f.is_finite() && f > 0.0) {
                return Err(bad());
            }
            gst::Fraction::approximate_f64(f).ok_or_else(bad)
        }
    }
}

/// FFmpeg's rotate angle, in radians as FFmpeg takes it, with "PI" allowed ("PI/2", "-PI",
/// "3*PI/2").
fn eval_angle(angle: &str) -> Result<f64> {
    let s = angle.trim().replace(' ', "");
    let bad = || Error::Value(format!("rotate: cannot evaluate angle {angle:?}"));
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, s),
    };
    let value = |t: &str| -> Result<f64> {
        match t {
            "PI" | "pi" => Ok(std::f64::consts::PI),
            n => n.parse::<f64>().map_err(|_| bad()),
        }
    };
    let (num, den) = match s.split_once('/') {
        Some((n, d)) => (n.to_string(), value(d)?),
        None => (s.clone(), 1.0),
    };
    let mut prod = 1.0;
    for f in num.split('*') {
        prod *= value(f)?;
    }
    let v = prod / den;
    Ok(if neg { -v } else { v })
}

fn graph_launch(graph: &FilterGraph, size: Size) -> Result<String> {
    let known = |n: &str| n == "video_in" || n == "video_out" || graph.nodes.iter().any(|(k, _)| k == n);
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
    let id = |n: &str| {
        format!("fpg_{}", n.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect::<String>())
    };
    // Every node is a named element (or a chain between two named identities) so edges can
    // link to it by name.
    let mut decl = vec![format!("identity name={}", id("video_in")), format!("identity name={}", id("video_out"))];
    let mut inputs_need_pads = std::collections::HashSet::new();
    for (name, spec) in &graph.nodes {
        let n = id(name);
        match spec.name.as_str() {
            "split" => decl.push(format!("tee name={n}")),
            "overlay" => {
                let mut d = format!("compositor name={n} background=black");
                let x = spec.param(0, &["x"]).map(|v| eval_dim(v, size)).transpose()?.unwrap_or(0);
                let y = spec.param(1, &["y"]).map(|v| eval_dim(v, size)).transpose()?.unwrap_or(0);
                let _ = write!(d, " sink_1::xpos={x} sink_1::ypos={y}");
                decl.push(d);
                inputs_need_pads.insert(name.clone());
            }
            _ => {
                let mut s = size;
                let chain = spec_launch(spec, &mut s)?;
                decl.push(format!("identity name={n} ! {chain} ! identity name={n}_out"));
            }
        }
    }
    let out_name = |node: &str| -> String {
        match graph.nodes.iter().find(|(k, _)| k == node).map(|(_, s)| s.name.as_str()) {
            Some("split") | Some("overlay") | None => id(node),
            Some(_) => format!("{}_out", id(node)),
        }
    };
    let mut links = Vec::new();
    for e in &graph.edges {
        let dst = if inputs_need_pads.contains(&e.to) {
            format!("{}.sink_{}", id(&e.to), e.to_pad)
        } else {
            format!("{}.", id(&e.to))
        };
        links.push(format!("{}. ! queue ! {dst}", out_name(&e.from)));
    }
    Ok(format!("{} {}", decl.join("  "), links.join("  ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffmpeg_names_map_to_gstreamer() {
        gst::init().unwrap();
        let seq = Filter::Sequence(vec![
            FilterSpec::new("scale", "iw/2:-1"),
            FilterSpec::new("hflip", ""),
            FilterSpec::new("transpose", "1"),
            FilterSpec::new("crop", "20:30:0:0"),
            FilterSpec::new("fps", "15"),
            FilterSpec::new("rotate", "PI"),
            FilterSpec::with_pairs("videobalance", [("saturation", "0.5")]),
        ]);
        let l = seq.to_launch(Some((160, 120))).unwrap();
        assert_eq!(
            l,
            "videoscale ! video/x-raw,width=80,height=60 ! videoflip video-direction=horiz ! \
             videoflip video-direction=90r ! videocrop left=0 top=0 right=40 bottom=50 ! \
             videorate ! video/x-raw,framerate=15/1 ! videoflip video-direction=180 ! videobalance saturation=0.5"
        );
        assert!(seq.changes_frame_count(Some((160, 120))));
        assert!(matches!(
            Filter::Sequence(vec![FilterSpec::new("nosuchfilter", "")]).to_launch(None),
            Err(Error::Parse { .. })
        ));
    }

    #[test]
    fn params_split_like_ffmpeg() {
        let p = split_params("x=25:y=25:enable='between(t,1,8)'");
        assert_eq!(p[2], (Some("enable".into()), "between(t,1,8)".into()));
        assert_eq!(split_params("512:-1"), vec![(None, "512".into()), (None, "-1".into())]);
    }

    #[test]
    fn picture_in_picture_graph_builds() {
        gst::init().unwrap();
        let graph = FilterGraph {
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
        };
        let bin = Filter::Graph(graph).to_bin(Some((160, 120))).unwrap();
        assert!(bin.by_name("fpg_overlay").is_some());
    }
}
