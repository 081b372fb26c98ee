//! `sqlx::migrate!` embeds the migrations at compile time but does not tell cargo to watch
//! them: without this, a changed or added migration file is not compiled in until some
//! Rust file of this crate changes too.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
