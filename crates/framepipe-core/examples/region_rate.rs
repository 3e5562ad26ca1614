//! How fast regions can be added from Rust, 10 per frame, as the floor the Python path
//! (`frame.add_region`, target >= 50k regions/s) is compared with:
//! `cargo run --release -p framepipe-core --example region_rate [frames]`.

use std::time::Instant;

use framepipe_core::meta::{self, RegionSpec};
use serde_json::json;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    framepipe_core::init()?;
    let frames: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(20_000);
    let attributes = json!({"track": 7, "colour": "red"});
    let attributes = attributes.as_object();
    let mut rows = Vec::new();
    for (name, with_attributes, read_back) in
        [("add", false, false), ("add + attributes", true, false), ("add + attributes + read back", true, true)]
    {
        let mut times = Vec::new();
        for _ in 0..5 {
            let start = Instant::now();
            for f in 0..frames {
                let mut buf = gst::Buffer::new();
                let b = buf.get_mut().ok_or("new buffer is writable")?;
                for i in 0..10 {
                    let spec = RegionSpec {
                        x: (i * 30) as f64,
                        y: (f % 200) as f64,
                        w: 25.0,
                        h: 40.0,
                        label: "ball",
                        confidence: 0.9,
                        attributes: if with_attributes { attributes } else { None },
                        ..Default::default()
                    };
                    meta::add_region(b, 640, 480, &spec)?;
                }
                if read_back {
                    std::hint::black_box(meta::regions(b));
                }
            }
            times.push(start.elapsed().as_secs_f64());
        }
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        rows.push((name, (frames * 10) as f64 / median, median * 1e9 / (frames * 10) as f64));
    }
    println!("{:<32} {:>14} {:>12}", "case (10 regions per frame)", "regions/s", "ns/region");
    for (name, rate, ns) in rows {
        println!("{name:<32} {rate:>14.0} {ns:>12.0}");
    }
    Ok(())
}
