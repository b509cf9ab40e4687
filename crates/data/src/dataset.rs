//! One model for every detection data set, whatever format it came in.

use std::path::{Component, Path, PathBuf};

use crate::error::{DataError, Result};
use crate::geometry::BBox;

/// Annotation formats montage reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// COCO instances json (`images`, `annotations`, `categories`).
    Coco,
    /// A folder of Pascal VOC xml files (or one xml file).
    Voc,
    /// YOLO txt labels (`class cx cy w h`, normalised) with names from `data.yaml` or `classes.txt`.
    Yolo,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "coco" => Ok(Format::Coco),
            "voc" => Ok(Format::Voc),
            "yolo" => Ok(Format::Yolo),
            _ => Err(format!("unknown format '{s}' (expected coco, voc or yolo)")),
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Format::Coco => "coco",
            Format::Voc => "voc",
            Format::Yolo => "yolo",
        })
    }
}

/// A detection data set: categories, and images with their boxes in pixels.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub format: Format,
    /// The annotation file or folder it was read from.
    pub annotations: PathBuf,
    /// The folder that image file names are relative to.
    pub image_root: PathBuf,
    /// Category names; an object's `category` indexes this list.
    pub categories: Vec<String>,
    /// The ids the source used for each category (COCO ids; 0-based indices otherwise).
    pub category_ids: Vec<u64>,
    pub images: Vec<ImageEntry>,
    /// What was skipped or repaired while reading.
    pub report: LoadReport,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ImageEntry {
    pub id: u64,
    /// Path relative to the image root (checked not to leave it).
    pub file_name: String,
    pub width: u32,
    pub height: u32,
    pub objects: Vec<Object>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    /// Index into [`Dataset::categories`].
    pub category: usize,
    /// Box in pixels, clipped to the image.
    pub bbox: BBox,
    /// Crowd (COCO `iscrowd`) or VOC `difficult`: never a positive, but negatives avoid it.
    pub iscrowd: bool,
}

impl Dataset {
    pub fn num_objects(&self) -> usize {
        self.images.iter().map(|i| i.objects.len()).sum()
    }

    /// Absolute-or-relative path of an image on disk.
    pub fn image_path(&self, image: &ImageEntry) -> PathBuf {
        self.image_root.join(&image.file_name)
    }
}

/// Options for [`load`].
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// Force a format instead of detecting it.
    pub format: Option<Format>,
    /// Turn skipped and clipped boxes into errors.
    pub strict: bool,
}

/// What kind of repair a reader made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repair {
    /// A box with zero, negative or NaN size (or entirely outside the image) was dropped.
    Skipped,
    /// A box reaching outside the image was clipped to it.
    Clipped,
}

/// Counts of repaired boxes with the first few offending entries of each kind.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    pub skipped: usize,
    pub clipped: usize,
    /// Up to [`LoadReport::KEEP`] examples of each kind, as full one-line messages.
    pub examples: Vec<(Repair, String)>,
}

impl LoadReport {
    pub const KEEP: usize = 5;

    fn note(&mut self, kind: Repair, message: String) {
        let n = match kind {
            Repair::Skipped => &mut self.skipped,
            Repair::Clipped => &mut self.clipped,
        };
        *n += 1;
        if self.examples.iter().filter(|(k, _)| *k == kind).count() < Self::KEEP {
            self.examples.push((kind, message));
        }
    }

    /// A human summary, one line per entry (empty when nothing was repaired).
    pub fn summary(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.skipped > 0 {
            out.push(format!(
                "skipped {} box(es) with zero, negative or NaN size or lying outside their image",
                self.skipped
            ));
        }
        if self.clipped > 0 {
            out.push(format!("clipped {} box(es) reaching outside their image", self.clipped));
        }
        out.extend(
            self.examples
                .iter()
                .map(|(k, m)| format!("  {}: {m}", if *k == Repair::Skipped { "skipped" } else { "clipped" })),
        );
        out
    }
}

/// Checks a raw box against its image: drops degenerate ones, clips the rest, and
/// records what it did (or fails in strict mode). `file`/`entry` name the source.
pub(crate) struct BoxChecker<'a> {
    pub report: &'a mut LoadReport,
    pub strict: bool,
}

impl BoxChecker<'_> {
    pub fn check(&mut self, b: BBox, width: u32, height: u32, file: &Path, entry: &str) -> Result<Option<BBox>> {
        let (w, h) = (width as f64, height as f64);
        if !b.is_proper() {
            let msg = format!("box [{}, {}, {}, {}] has zero, negative or NaN size", b.x, b.y, b.w, b.h);
            return self.repair(Repair::Skipped, file, entry, msg).map(|_| None);
        }
        let Some(c) = b.clip(w, h) else {
            let msg = format!("box [{}, {}, {}, {}] lies outside the {width}x{height} image", b.x, b.y, b.w, b.h);
            return self.repair(Repair::Skipped, file, entry, msg).map(|_| None);
        };
        if c != b {
            let msg = format!(
                "box [{}, {}, {}, {}] reaches outside the {width}x{height} image; clipped to [{}, {}, {}, {}]",
                b.x, b.y, b.w, b.h, c.x, c.y, c.w, c.h
            );
            self.repair(Repair::Clipped, file, entry, msg)?;
        }
        Ok(Some(c))
    }

    fn repair(&mut self, kind: Repair, file: &Path, entry: &str, msg: String) -> Result<()> {
        if self.strict {
            return Err(DataError::at(file, entry, format!("{msg} (--strict)")));
        }
        self.report.note(kind, DataError::at(file, entry, msg).to_string());
        Ok(())
    }
}

/// Joins `name` under `root`, refusing names that could leave it: absolute paths,
/// drive prefixes, `..` components and empty names.
pub fn resolve_under(root: &Path, name: &str, file: &Path, entry: &str) -> Result<PathBuf> {
    let p = Path::new(name);
    let bad = name.trim().is_empty()
        || name.contains('\0')
        || p.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if bad {
        return Err(DataError::at(
            file,
            entry,
            format!(
                "file name {name:?} is not a plain relative path under the image root (absolute paths and '..' are refused)"
            ),
        ));
    }
    Ok(root.join(p))
}

/// Reads an image's size from its header only (no pixel decoding).
pub fn image_size(path: &Path) -> Result<(u32, u32)> {
    let reader = image::ImageReader::open(path).map_err(|e| DataError::new(path, format!("cannot open image: {e}")))?;
    let reader = reader.with_guessed_format().map_err(|e| DataError::new(path, format!("cannot read image: {e}")))?;
    reader.into_dimensions().map_err(|e| DataError::new(path, format!("not a readable image: {e}")))
}

/// Checks that an image exists and agrees with the size the annotations give
/// (or reads its size when they give none). Returns the size.
pub(crate) fn checked_size(path: &Path, declared: Option<(u32, u32)>, file: &Path, entry: &str) -> Result<(u32, u32)> {
    if !path.is_file() {
        return Err(DataError::at(file, entry, format!("image {} does not exist", path.display())));
    }
    let real = image_size(path).map_err(|e| DataError::at(file, entry, e.to_string()))?;
    match declared {
        Some(d) if d.0 > 0 && d.1 > 0 && d != real => Err(DataError::at(
            file,
            entry,
            format!("the annotations say {}x{} but {} is {}x{}", d.0, d.1, path.display(), real.0, real.1),
        )),
        _ => Ok(real),
    }
}

/// Detects the format of an annotation path.
pub fn detect_format(annotations: &Path) -> Result<Format> {
    if annotations.is_dir() {
        let mut xml = false;
        let mut txt = false;
        let entries = std::fs::read_dir(annotations).map_err(|e| DataError::io(annotations, e))?;
        for e in entries.flatten() {
            match e.path().extension().and_then(|s| s.to_str()).map(|s| s.to_ascii_lowercase()).as_deref() {
                Some("xml") => xml = true,
                Some("txt") => txt = true,
                _ => {}
            }
        }
        return match (xml, txt) {
            (true, false) => Ok(Format::Voc),
            (false, true) => Ok(Format::Yolo),
            (true, true) => {
                Err(DataError::new(annotations, "holds both .xml and .txt files; pass --format voc or --format yolo"))
            }
            (false, false) => Err(DataError::new(annotations, "holds no .xml (VOC) or .txt (YOLO) annotation files")),
        };
    }
    if !annotations.exists() {
        return Err(DataError::new(annotations, "does not exist"));
    }
    match annotations.extension().and_then(|s| s.to_str()).map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("json") => Ok(Format::Coco),
        Some("xml") => Ok(Format::Voc),
        Some("yaml") | Some("yml") | Some("txt") => Ok(Format::Yolo),
        _ => Err(DataError::new(
            annotations,
            "cannot tell the format (expected a COCO .json, a VOC .xml or folder, or YOLO labels); pass --format",
        )),
    }
}

/// Reads a detection data set. `annotations` is a COCO json, a VOC xml file or folder,
/// or YOLO labels (a labels folder, `data.yaml` or `classes.txt`); `images` the image root.
pub fn load(annotations: &Path, images: &Path, opts: &LoadOptions) -> Result<Dataset> {
    if !images.is_dir() {
        return Err(DataError::new(images, "image folder does not exist"));
    }
    let format = match opts.format {
        Some(f) => f,
        None => detect_format(annotations)?,
    };
    let mut report = LoadReport::default();
    let mut checker = BoxChecker { report: &mut report, strict: opts.strict };
    let (categories, category_ids, images_out) = match format {
        Format::Coco => crate::formats::coco::read(annotations, images, &mut checker)?,
        Format::Voc => crate::formats::voc::read(annotations, images, &mut checker)?,
        Format::Yolo => crate::formats::yolo::read(annotations, images, &mut checker)?,
    };
    Ok(Dataset {
        format,
        annotations: annotations.to_path_buf(),
        image_root: images.to_path_buf(),
        categories,
        category_ids,
        images: images_out,
        report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_refuses_escapes() {
        let root = Path::new("/data/img");
        let f = Path::new("a.json");
        assert!(resolve_under(root, "x/y.jpg", f, "e").is_ok());
        assert!(resolve_under(root, "./y.jpg", f, "e").is_ok());
        for bad in ["../y.jpg", "x/../../y.jpg", "/etc/passwd", "", "  "] {
            let e = resolve_under(root, bad, f, "images[3]").unwrap_err().to_string();
            assert!(e.contains("a.json: images[3]:"), "{e}");
        }
    }
}
