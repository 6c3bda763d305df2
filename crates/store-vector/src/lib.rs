//! stub docs
mod bare;
mod distance;
mod engine;
mod error;
mod filter;
mod flat;
mod index;
pub mod params;
mod snapshot;
mod util;

pub use bare::BareIndex;
pub use distance::{CosineDistance, dot};
pub use error::{Result, VectorError};
pub use flat::FlatIndex;
pub use index::{CATCH_UP_PAGE, HnswIndex, IndexStats, OpenedFrom};
pub use params::HnswParams;
pub use snapshot::SnapshotInfo;
