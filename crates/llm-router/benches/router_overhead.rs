//! Placeholder replaced by the router overhead benchmark.
fn main() {}
