//! What a launch description says beyond what `gst::parse::launch` leaves visible: which
//! properties it set explicitly (a property equal to its default may or may not have been
//! written out), and which installed factories a misspelled element name was meant to be.

use gst::prelude::*;

/// One element of a launch description: its factory, its `name=` if given, and the
/// properties the description sets on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ElementSpec {
    pub factory: String,
    pub name: Option<String>,
    pub properties: Vec<String>,
}

/// Splits a description into tokens: whitespace separates, `!` is a token of its own,
/// double quotes (with backslash escapes) keep their content in one token and are dropped
/// (GStreamer keeps single quotes as part of the value), and `prop = value` is joined into `prop=value` as GStreamer's grammar allows.
fn tokens(description: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut chars = description.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(_), '\\') => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"') => quote = Some(c),
            (None, '!') => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
                out.push("!".into());
            }
            (None, c) if c.is_whitespace() => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            (None, c) => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    // Join `a = b`, `a= b` and `a =b`.
    let mut joined: Vec<String> = Vec::with_capacity(out.len());
    let mut iter = out.into_iter().peekable();
    while let Some(mut t) = iter.next() {
        if t.starts_with('=')
            && let Some(prev) = joined.pop()
        {
            t = prev + &t;
        }
        while t.ends_with('=') && iter.peek().is_some_and(|n| n != "!") {
            let next = iter.next().unwrap_or_default();
            t.push_str(&next);
        }
        if iter.peek().is_some_and(|n| n.starts_with('=')) {
            let next = iter.next().unwrap_or_default();
            t.push_str(&next);
            while t.ends_with('=') && iter.peek().is_some_and(|n| n != "!") {
                let next = iter.next().unwrap_or_default();
                t.push_str(&next);
            }
        }
        joined.push(t);
    }
    joined
}

fn is_identifier(s: &str, extra: &[char]) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || extra.contains(&c))
}

/// The elements of `description` with the properties it sets on each, in order. Caps
/// filters, pad references and bins are skipped; a token that is none of these ends the
/// current element.
pub fn elements(description: &str) -> Vec<ElementSpec> {
    let mut specs: Vec<ElementSpec> = Vec::new();
    let mut current: Option<usize> = None;
    for token in tokens(description) {
        if token == "!" {
            current = None;
        } else if is_identifier(&token, &[]) {
            specs.push(ElementSpec { factory: token, name: None, properties: Vec::new() });
            current = Some(specs.len() - 1);
        } else if let Some((key, value)) = token.split_once('=')
            && is_identifier(key, &[':'])
            && let Some(i) = current
        {
            let spec = &mut specs[i];
            if key == "name" {
                spec.name = Some(value.to_string());
            }
            spec.properties.push(key.replace('_', "-"));
        } else {
            current = None;
        }
    }
    specs
}

/// Whether `description` sets `property` on the element called `name`, made by `factory`.
/// An element the description leaves unnamed is matched by its factory among the unnamed
/// ones (its name is GStreamer's default, which the description cannot contain).
pub fn sets_property(description: &str, factory: &str, name: &str, property: &str) -> bool {
    let specs = elements(description);
    let named = specs.iter().any(|s| s.name.as_deref() == Some(name));
    specs.iter().any(|s| {
        let this = match &s.name {
            Some(n) => n == name,
            None => !named && s.factory == factory,
        };
        this && s.properties.iter().any(|p| p == property)
    })
}

/// Damerau-Levenshtein distance (optimal string alignment) between two short names.
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

/// The registered element factories nearest to `name` (a misspelling), best first: at
/// most three, within an edit distance of a third of the name's length (at least 1, at
/// most 3).
pub fn suggestions(name: &str, candidates: impl IntoIterator<Item = String>) -> Vec<String> {
    let lower = name.to_ascii_lowercase();
    let limit = (lower.chars().count() / 3).clamp(1, 3);
    let mut scored: Vec<(usize, String)> = candidates
        .into_iter()
        .filter(|c| c != name)
        .map(|c| (distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .collect();
    scored.sort();
    scored.dedup_by(|a, b| a.1 == b.1);
    let best = scored.first().map_or(0, |s| s.0);
    scored.into_iter().filter(|(d, _)| *d == best).take(3).map(|(_, c)| c).collect()
}

/// [`suggestions`] among every element factory in the registry (framepipe's own and
/// Python-written ones included).
pub fn closest_factories(name: &str) -> Vec<String> {
    // Every feature: factories_with_type(ANY) leaves out classifications it has no type
    // for ("Filter/Analytics", "Filter/Effect", ...).
    let names =
        gst::Registry::get().features(gst::ElementFactory::static_type()).into_iter().map(|f| f.name().to_string());
    suggestions(name, names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_properties_per_element() {
        let specs = elements(
            "videotestsrc num-buffers=5 ! video/x-raw,format=RGB,width=8 ! appsink name=out sync = true \
             filesrc location=\"a b.mp4\" ! decodebin ! appsink name=\"o2\"",
        );
        let names: Vec<_> = specs.iter().map(|s| (s.factory.as_str(), s.name.as_deref())).collect();
        assert_eq!(
            names,
            [
                ("videotestsrc", None),
                ("appsink", Some("out")),
                ("filesrc", None),
                ("decodebin", None),
                ("appsink", Some("o2"))
            ]
        );
        assert_eq!(specs[1].properties, ["name", "sync"]);
        assert!(sets_property("videotestsrc ! appsink name=out sync=true", "appsink", "out", "sync"));
        assert!(!sets_property("videotestsrc ! appsink name=out max-buffers=2", "appsink", "out", "sync"));
        assert!(!sets_property("fakesink sync=true videotestsrc ! appsink name=out", "appsink", "out", "sync"));
        assert!(sets_property("videotestsrc ! appsink sync=1", "appsink", "appsink3", "sync"));
        assert!(!sets_property("videotestsrc ! appsink name=a sync=1 x. ! appsink", "appsink", "appsink0", "sync"));
        // A caps string with a `sync=` field is not a property of the element before it.
        assert!(!sets_property("appsrc ! video/x-raw,sync=true ! appsink name=o", "appsink", "o", "sync"));
    }

    #[test]
    fn suggests_near_names() {
        let names = ["videotestsrc", "videoconvert", "videoscale", "fakesink", "x264enc"].map(String::from);
        assert_eq!(suggestions("videotestscr", names.clone()), ["videotestsrc"]);
        assert_eq!(suggestions("videconvert", names.clone()), ["videoconvert"]);
        assert_eq!(suggestions("x246enc", names.clone()), ["x264enc"]);
        assert!(suggestions("nosuchelementxyz", names).is_empty());
    }
}
