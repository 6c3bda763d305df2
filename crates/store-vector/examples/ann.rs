//! ANN benchmark driver: builds an [`HnswIndex`] from `base.npy` in bulk (both cores), runs
//! the queries of `queries.npy` one at a time on one thread at several `ef`, and reports
//! build time, QPS and recall@k against `gt.npy`.
//!
//! It measures the product's own path: [`HnswIndex::build`] and
//! [`HnswIndex::search_with_ef_blocking`] with an empty filter (exactly what an unfiltered
//! [`HnswIndex::search_blocking`] runs, `ef` aside), with the default parameters unless
//! `--m` or `--ef-construction` say otherwise.
//!
//! The files are what `shared/bench/peers_ann.py N D Q DIR` writes (float32 base and
//! queries, integer ground truth), so our figures sit beside hnswlib's, faiss's and
//! usearch's on the very same vectors:
//!
//! ```text
//! cargo run --release -p store-vector --example ann -- --data /tmp/ann \
//!     [--m 16] [--ef-construction 150] [--ef 16,32,64,128,256] [--k 10] [--json]
//! ```
//!
//! `--json` prints `{"build_s", "build_threads", "runs": [{"ef", "qps", "recall"}], …}`,
//! the shape `cargo xtask bench ann` reads.

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use memory_core::{
    MemoryFilter, MemoryId, MemoryKind, Metadata, Scope, Timestamp, VectorEntry, VectorQuery,
};
use store_vector::{HnswIndex, HnswParams};

type Res<T> = Result<T, Box<dyn Error>>;

/// A 2-D array from a `.npy` file: its rows as `f64` (exact for f32 and for the integer
/// ids of a ground-truth file).
struct Npy {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Npy {
    fn row_f32(&self, i: usize) -> Vec<f32> {
        self.data[i * self.cols..(i + 1) * self.cols]
            .iter()
            .map(|x| *x as f32)
            .collect()
    }
}

/// Parses the simple `.npy` layout: magic, version, header length, a Python dict with
/// `descr`, `fortran_order` and `shape`, then the little-endian C-order data.
fn read_npy(path: &Path) -> Res<Npy> {
    let bytes = fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(format!("{} is not a .npy file", path.display()).into());
    }
    let (header_len, start) = match bytes[6] {
        1 => (usize::from(u16::from_le_bytes([bytes[8], bytes[9]])), 10),
        _ => {
            let b = bytes.get(8..12).ok_or("short header")?;
            (u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize, 12)
        }
    };
    let header = std::str::from_utf8(bytes.get(start..start + header_len).ok_or("short header")?)?;
    let field = |key: &str| -> Res<&str> {
        let at = header
            .find(key)
            .ok_or(format!("no {key} in the .npy header"))?;
        Ok(&header[at + key.len()..])
    };
    let descr = field("'descr':")?
        .trim_start()
        .trim_start_matches('\'')
        .split('\'')
        .next()
        .ok_or("bad descr")?
        .to_owned();
    if field("'fortran_order':")?.trim_start().starts_with("True") {
        return Err("Fortran-order arrays are not supported".into());
    }
    let shape_text = field("'shape':")?;
    let shape_text = &shape_text
        [shape_text.find('(').ok_or("bad shape")? + 1..shape_text.find(')').ok_or("bad shape")?];
    let shape: Vec<usize> = shape_text
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let (rows, cols) = match shape.as_slice() {
        [r, c] => (*r, *c),
        [r] => (*r, 1),
        _ => return Err(format!("unsupported shape {shape:?}").into()),
    };
    let body = &bytes[start + header_len..];
    let width = match descr.as_str() {
        "<f4" | "<i4" | "<u4" => 4,
        "<f8" | "<i8" | "<u8" => 8,
        other => return Err(format!("unsupported dtype {other}").into()),
    };
    if body.len() < rows * cols * width {
        return Err(format!("{} is truncated", path.display()).into());
    }
    let data = body
        .chunks_exact(width)
        .take(rows * cols)
        .map(|c| match descr.as_str() {
            "<f4" => f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            "<i4" => f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            "<u4" => f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])),
            "<f8" => f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
            "<i8" => i64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64,
            _ => u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) as f64,
        })
        .collect();
    Ok(Npy { rows, cols, data })
}

/// CPU seconds this process has used (user + system), from `/proc/self/stat` on Linux;
/// less disturbed than wall time when other work shares the machine.
fn cpu_seconds() -> Option<f64> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

struct Args {
    data: PathBuf,
    m: usize,
    ef_construction: usize,
    efs: Vec<usize>,
    k: usize,
    json: bool,
}

fn args() -> Res<Args> {
    let mut a = Args {
        data: PathBuf::from("/tmp/ann"),
        m: HnswParams::new(1).m,
        ef_construction: HnswParams::new(1).ef_construction,
        efs: vec![10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512],
        k: 10,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--data" => a.data = PathBuf::from(value()?),
            "--m" => a.m = value()?.parse()?,
            "--ef-construction" => a.ef_construction = value()?.parse()?,
            "--ef" => {
                a.efs = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?
            }
            "--k" => a.k = value()?.parse()?,
            "--json" => a.json = true,
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    Ok(a)
}

fn main() -> Res<()> {
    let a = args()?;
    let base = read_npy(&a.data.join("base.npy"))?;
    let queries = read_npy(&a.data.join("queries.npy"))?;
    let gt = read_npy(&a.data.join("gt.npy"))?;
    let rows: Vec<Vec<f32>> = (0..base.rows).map(|i| base.row_f32(i)).collect();
    drop(base);
    let qs: Vec<Vec<f32>> = (0..queries.rows).map(|i| queries.row_f32(i)).collect();
    let k = a.k.min(gt.cols);
    let truth: Vec<Vec<usize>> = (0..gt.rows)
        .map(|i| {
            gt.data[i * gt.cols..i * gt.cols + k]
                .iter()
                .map(|x| *x as usize)
                .collect()
        })
        .collect();

    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let t = Instant::now();
    let cpu = cpu_seconds();
    let dimension = rows.first().map_or(0, Vec::len);
    let params = HnswParams::new(dimension)
        .with_m(a.m)
        .with_ef_construction(a.ef_construction)
        .with_max_elements(rows.len().max(1));
    let entries: Vec<VectorEntry> = rows
        .iter()
        .enumerate()
        .map(|(i, r)| VectorEntry {
            id: MemoryId::from_bytes((i as u128).to_be_bytes()),
            vector: r.clone(),
            scope: Scope::global(),
            kind: MemoryKind::default(),
            metadata: Metadata::new(),
            created_at: Timestamp::from_millis(0),
            expires_at: None,
        })
        .collect();
    let index = HnswIndex::build(params, entries)?;
    let build_s = t.elapsed().as_secs_f64();
    let build_cpu_s = cpu.zip(cpu_seconds()).map_or(f64::NAN, |(a, b)| b - a);
    if !a.json {
        println!(
            "built {} x {} with m {} ef_construction {} in {build_s:.2} s ({build_cpu_s:.1} CPU s) on {threads} threads",
            rows.len(),
            rows.first().map_or(0, Vec::len),
            a.m,
            a.ef_construction
        );
    }
    let now = Timestamp::now();
    let mut runs = Vec::new();
    for &ef in &a.efs {
        let t = Instant::now();
        let cpu = cpu_seconds();
        let mut hits = 0usize;
        for (q, want) in qs.iter().zip(&truth) {
            let query = VectorQuery {
                vector: q.clone(),
                k,
                filter: MemoryFilter::default(),
                now,
            };
            let got = index.search_with_ef_blocking(&query, ef)?;
            hits += got
                .iter()
                .filter(|h| want.contains(&(u128::from_be_bytes(h.id.to_bytes()) as usize)))
                .count();
        }
        let secs = t.elapsed().as_secs_f64();
        let cpu_secs = cpu.zip(cpu_seconds()).map_or(f64::NAN, |(a, b)| b - a);
        let qps = qs.len() as f64 / secs;
        let recall = hits as f64 / (qs.len() * k) as f64;
        if !a.json {
            println!(
                "ef {ef:>4}: {qps:>8.0} QPS ({:.0} per CPU second), recall@{k} {recall:.4}",
                qs.len() as f64 / cpu_secs
            );
        }
        runs.push(format!(
            "{{\"ef\": {ef}, \"qps\": {qps:.1}, \"recall\": {recall:.5}}}"
        ));
    }
    if a.json {
        println!(
            "{{\"system\": \"brain\", \"n\": {}, \"dim\": {}, \"m\": {}, \"ef_construction\": {}, \"build_s\": {build_s:.3}, \"build_cpu_s\": {build_cpu_s:.3}, \"build_threads\": {threads}, \"runs\": [{}]}}",
            rows.len(),
            rows.first().map_or(0, Vec::len),
            a.m,
            a.ef_construction,
            runs.join(", ")
        );
    }
    Ok(())
}
