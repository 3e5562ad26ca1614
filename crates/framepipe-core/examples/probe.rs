//! Prints what `framepipe_core::video::probe` reports about each file given.
//!
//! `cargo run -p framepipe-core --example probe -- FILE...`

use std::time::Instant;

fn main() {
    for arg in std::env::args().skip(1) {
        let start = Instant::now();
        match framepipe_core::video::probe(std::path::Path::new(&arg), &mut || false) {
            Ok((meta, index)) => {
                print!("{meta}");
                for (k, e) in index.entries().iter().enumerate().take(8) {
                    println!("  frame {k}: {e:?} stream_time {:?}", index.stream_time(k));
                }
            }
            Err(e) => println!("{arg}: error {e:?}"),
        }
        println!("  ({:?})", start.elapsed());
    }
}
