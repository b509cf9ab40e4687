//! The crop cache: every sample's pixels packed into one file that is read with mmap, so
//! that training never decodes a full image again.
//!
//! Each crop is the sample's box plus a 1-pixel margin (for the resampling filter), stored
//! as raw RGB8 and downscaled, where it is large, so that its longer box side is at most
//! `max_side`: the largest size any template region can ask for, scale jitter included
//! (1.5 x 160 = 240 for the paper's template).
//!
//! Layout: `MAGIC`, the crops back to back, a json footer (fingerprints and one entry per
//! sample), the footer's length as u64 LE, and `MAGIC` again. The file is written to a
//! temporary name and renamed into place. Opening it checks the samples' hash and a
//! fingerprint of the images, so a cache of other samples or a changed data set is refused.

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use fast_image_resize as fr;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::dataset::resolve_under;
use crate::error::{DataError, Result};
use crate::geometry::BBox;
use crate::io::write_atomic;
use crate::samples_file::SampleSet;
use crate::source::{PixelSource, SampleView, decode_rgb};
use crate::template::Template;

const MAGIC: &[u8; 16] = b"MONTAGE-CROPS-v1";

/// The default longest stored side: 1.5 x the paper template's largest region (160).
pub const DEFAULT_MAX_SIDE: u32 = 240;

#[derive(Serialize, Deserialize)]
struct Footer {
    samples_hash: String,
    images_fingerprint: String,
    max_side: u32,
    entries: Vec<Entry>,
}

#[derive(Clone, Copy, Serialize, Deserialize)]
struct Entry {
    offset: u64,
    width: u32,
    height: u32,
    /// The sample's box in the stored crop's pixels.
    bbox: BBox,
}

/// The longest side a template can ask of a sample (its largest region x the top jitter).
pub fn needed_side(template: &Template, scale_max: f64) -> u32 {
    (template.max_region_side() as f64 * scale_max.max(1.0)).ceil() as u32
}

/// A fingerprint of the images a sample set uses: path, length and the first 16 KiB of each.
pub fn images_fingerprint(set: &SampleSet, root: &Path) -> Result<String> {
    let parts: Vec<Result<[u8; 32]>> = set
        .images
        .par_iter()
        .map(|rel| {
            let path = resolve_under(root, rel, root, rel)?;
            let mut f = File::open(&path).map_err(|e| DataError::new(&path, format!("cannot open image: {e}")))?;
            let len = f.metadata().map_err(|e| DataError::io(&path, e))?.len();
            let mut head = vec![0u8; 16 * 1024];
            let n = read_up_to(&mut f, &mut head).map_err(|e| DataError::io(&path, e))?;
            let mut h = blake3::Hasher::new();
            h.update(rel.as_bytes()).update(&len.to_le_bytes()).update(&head[..n]);
            Ok(*h.finalize().as_bytes())
        })
        .collect();
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(&p?);
    }
    Ok(h.finalize().to_hex().to_string())
}

fn read_up_to(f: &mut File, buf: &mut [u8]) -> std::io::Result<usize> {
    use std::io::Read;
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// One stored crop before it is written.
struct Crop {
    sample: usize,
    width: u32,
    height: u32,
    bbox: BBox,
    pixels: Vec<u8>,
}

/// Cuts (and downscales where needed) the crops of `samples`, all from one decoded image.
fn crops_of_image(
    set: &SampleSet,
    samples: &[usize],
    img: &image::RgbImage,
    path: &Path,
    max_side: u32,
) -> Result<Vec<Crop>> {
    let (iw, ih) = img.dimensions();
    let src = fr::images::ImageRef::new(iw, ih, img.as_raw(), fr::PixelType::U8x3)
        .map_err(|e| DataError::new(path, e.to_string()))?;
    let mut resizer = fr::Resizer::new();
    let mut out = Vec::with_capacity(samples.len());
    for &si in samples {
        let b = set.samples[si].bbox;
        if b.x2() > iw as f64 + 1e-6 || b.y2() > ih as f64 + 1e-6 {
            return Err(DataError::new(
                path,
                format!("sample box {:?} reaches outside the {iw}x{ih} image", <[f64; 4]>::from(b)),
            ));
        }
        let x0 = (b.x.floor() as i64 - 1).max(0) as u32;
        let y0 = (b.y.floor() as i64 - 1).max(0) as u32;
        let x1 = ((b.x2().ceil() as i64 + 1) as u32).min(iw);
        let y1 = ((b.y2().ceil() as i64 + 1) as u32).min(ih);
        let (rw, rh) = (x1 - x0, y1 - y0);
        let scale = (max_side as f64 / b.w.max(b.h)).min(1.0);
        let (w, h) = if scale < 1.0 {
            (((rw as f64 * scale).round() as u32).max(1), ((rh as f64 * scale).round() as u32).max(1))
        } else {
            (rw, rh)
        };
        let mut dst = fr::images::Image::new(w, h, fr::PixelType::U8x3);
        let opts = fr::ResizeOptions::new()
            .resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear))
            .crop(x0 as f64, y0 as f64, rw as f64, rh as f64);
        resizer.resize(&src, &mut dst, &opts).map_err(|e| DataError::new(path, e.to_string()))?;
        let (sx, sy) = (w as f64 / rw as f64, h as f64 / rh as f64);
        let bbox = BBox::new((b.x - x0 as f64) * sx, (b.y - y0 as f64) * sy, b.w * sx, b.h * sy);
        out.push(Crop { sample: si, width: w, height: h, bbox, pixels: dst.into_vec() });
    }
    Ok(out)
}

/// Builds the cache of `set` (images under `root`) at `out`. `progress` is told how many
/// images are done after each batch.
pub fn build(set: &SampleSet, root: &Path, out: &Path, max_side: u32, progress: &(dyn Fn(usize) + Sync)) -> Result<()> {
    if max_side == 0 {
        return Err(DataError::new(out, "max side must be at least 1"));
    }
    let fingerprint = images_fingerprint(set, root)?;
    let mut per_image: Vec<Vec<usize>> = vec![Vec::new(); set.images.len()];
    for (i, s) in set.samples.iter().enumerate() {
        per_image[s.image].push(i);
    }
    write_atomic(out, |w| {
        let io_err = |e: DataError| std::io::Error::other(e.to_string());
        w.write_all(MAGIC)?;
        let mut offset = MAGIC.len() as u64;
        let mut entries: Vec<Option<Entry>> = vec![None; set.samples.len()];
        let chunk = (rayon::current_num_threads() * 4).max(1);
        let mut done = 0;
        for ids in (0..set.images.len()).collect::<Vec<_>>().chunks(chunk) {
            let crops: Vec<Result<Vec<Crop>>> = ids
                .par_iter()
                .map(|&ii| {
                    let path = resolve_under(root, &set.images[ii], root, &set.images[ii])?;
                    let img = decode_rgb(&path)?;
                    crops_of_image(set, &per_image[ii], &img, &path, max_side)
                })
                .collect();
            for c in crops {
                for crop in c.map_err(io_err)? {
                    w.write_all(&crop.pixels)?;
                    entries[crop.sample] =
                        Some(Entry { offset, width: crop.width, height: crop.height, bbox: crop.bbox });
                    offset += crop.pixels.len() as u64;
                }
            }
            done += ids.len();
            progress(done);
        }
        let footer = Footer {
            samples_hash: set.hash.clone(),
            images_fingerprint: fingerprint.clone(),
            max_side,
            entries: entries.into_iter().map(|e| e.expect("every sample belongs to an image")).collect(),
        };
        let json = serde_json::to_vec(&footer).map_err(std::io::Error::other)?;
        w.write_all(&json)?;
        w.write_all(&(json.len() as u64).to_le_bytes())?;
        w.write_all(MAGIC)
    })
}

/// An opened crop cache.
pub struct CropCache {
    path: PathBuf,
    map: memmap2::Mmap,
    entries: Vec<Entry>,
    pub max_side: u32,
}

impl CropCache {
    /// Opens `path` for `set` (images under `root`), refusing a cache built from other
    /// samples or from images that changed since.
    pub fn open(path: &Path, set: &SampleSet, root: &Path) -> Result<CropCache> {
        let file = File::open(path).map_err(|e| DataError::new(path, format!("cannot open cache: {e}")))?;
        // SAFETY: the cache is only ever replaced by rename, never modified in place, so the
        // mapped bytes do not change under us.
        let map =
            unsafe { memmap2::Mmap::map(&file) }.map_err(|e| DataError::new(path, format!("cannot map cache: {e}")))?;
        let bad = |m: &str| DataError::new(path, format!("not a montage crop cache ({m})"));
        let n = map.len();
        if n < 2 * MAGIC.len() + 8 || &map[..16] != MAGIC || &map[n - 16..] != MAGIC {
            return Err(bad("bad magic"));
        }
        let flen = u64::from_le_bytes(map[n - 24..n - 16].try_into().unwrap()) as usize;
        if flen > n - 40 {
            return Err(bad("bad footer length"));
        }
        let footer: Footer =
            serde_json::from_slice(&map[n - 24 - flen..n - 24]).map_err(|e| bad(&format!("footer: {e}")))?;
        let data_end = (n - 24 - flen) as u64;
        if footer.samples_hash != set.hash {
            return Err(DataError::new(
                path,
                "was built from other samples than the ones given (their hashes differ); rebuild it with `montage cache`",
            ));
        }
        if footer.entries.len() != set.samples.len() {
            return Err(bad("entry count differs from the sample count"));
        }
        for (i, e) in footer.entries.iter().enumerate() {
            if e.offset + e.width as u64 * e.height as u64 * 3 > data_end || e.offset < 16 {
                return Err(DataError::at(
                    path,
                    format!("entry {i}"),
                    "crop lies outside the data section (truncated file?)",
                ));
            }
        }
        if images_fingerprint(set, root)? != footer.images_fingerprint {
            return Err(DataError::new(
                path,
                format!(
                    "the images under {} changed since the cache was built; rebuild it with `montage cache`",
                    root.display()
                ),
            ));
        }
        Ok(CropCache { path: path.to_path_buf(), map, entries: footer.entries, max_side: footer.max_side })
    }

    /// Refuses templates that need crops larger than those stored.
    pub fn check_template(&self, template: &Template, scale_max: f64) -> Result<()> {
        let need = needed_side(template, scale_max);
        if need > self.max_side {
            return Err(DataError::new(
                &self.path,
                format!(
                    "crops were stored at up to {} px but this template needs {need} px; rebuild with `montage cache --max-side {need}`",
                    self.max_side
                ),
            ));
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl PixelSource for CropCache {
    fn view(&self, _set: &SampleSet, sample: usize) -> Result<SampleView<'_>> {
        let e = self
            .entries
            .get(sample)
            .ok_or_else(|| DataError::at(&self.path, format!("entry {sample}"), "no such sample"))?;
        let start = e.offset as usize;
        let len = e.width as usize * e.height as usize * 3;
        Ok(SampleView {
            pixels: Cow::Borrowed(&self.map[start..start + len]),
            width: e.width,
            height: e.height,
            bbox: e.bbox,
            origin: self.path.clone(),
        })
    }

    fn kind(&self) -> &'static str {
        "cache"
    }
}
