//! Where sample pixels come from: the original images (decoded each time) or the crop cache.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::dataset::resolve_under;
use crate::error::{DataError, Result};
use crate::geometry::BBox;
use crate::samples_file::SampleSet;

/// RGB8 pixels holding one sample, and where the sample's box lies in them.
pub struct SampleView<'a> {
    pub pixels: Cow<'a, [u8]>,
    pub width: u32,
    pub height: u32,
    /// The sample's box in these pixels' coordinates.
    pub bbox: BBox,
    /// The file the pixels came from (for error messages).
    pub origin: PathBuf,
}

/// A source of sample pixels, shared by loader threads.
pub trait PixelSource: Send + Sync {
    fn view(&self, set: &SampleSet, sample: usize) -> Result<SampleView<'_>>;
    /// "images" or "cache".
    fn kind(&self) -> &'static str;
}

/// Decodes the sample's whole image every time.
pub struct ImageSource {
    pub root: PathBuf,
}

impl ImageSource {
    pub fn new(root: impl AsRef<Path>) -> Self {
        ImageSource { root: root.as_ref().to_path_buf() }
    }
}

/// Decodes an image file to RGB8.
pub fn decode_rgb(path: &Path) -> Result<image::RgbImage> {
    let reader = image::ImageReader::open(path).map_err(|e| DataError::new(path, format!("cannot open image: {e}")))?;
    let reader = reader.with_guessed_format().map_err(|e| DataError::new(path, format!("cannot read image: {e}")))?;
    let img = reader.decode().map_err(|e| DataError::new(path, format!("cannot decode image: {e}")))?;
    Ok(img.into_rgb8())
}

/// Resizes an RGB8 image to `width x height` (bilinear convolution, antialiased like PIL's).
/// `origin` names the file in errors.
pub fn resize_rgb(img: &image::RgbImage, width: u32, height: u32, origin: &Path) -> Result<Vec<u8>> {
    use fast_image_resize as fr;
    let (w0, h0) = img.dimensions();
    let fail = |e: String| DataError::new(origin, format!("cannot resize: {e}"));
    let src = fr::images::ImageRef::new(w0, h0, img.as_raw(), fr::PixelType::U8x3).map_err(|e| fail(e.to_string()))?;
    let mut dst = fr::images::Image::new(width, height, fr::PixelType::U8x3);
    fr::Resizer::new()
        .resize(
            &src,
            &mut dst,
            &fr::ResizeOptions::new().resize_alg(fr::ResizeAlg::Convolution(fr::FilterType::Bilinear)),
        )
        .map_err(|e| fail(e.to_string()))?;
    Ok(dst.into_vec())
}

impl PixelSource for ImageSource {
    fn view(&self, set: &SampleSet, sample: usize) -> Result<SampleView<'_>> {
        let s = &set.samples[sample];
        let rel = &set.images[s.image];
        let path = resolve_under(&self.root, rel, &self.root, rel)?;
        let img = decode_rgb(&path)?;
        let (w, h) = img.dimensions();
        if s.bbox.x2() > w as f64 + 1e-6 || s.bbox.y2() > h as f64 + 1e-6 {
            return Err(DataError::new(
                &path,
                format!("sample box {:?} reaches outside the {w}x{h} image", <[f64; 4]>::from(s.bbox)),
            ));
        }
        Ok(SampleView { pixels: Cow::Owned(img.into_raw()), width: w, height: h, bbox: s.bbox, origin: path })
    }

    fn kind(&self) -> &'static str {
        "images"
    }
}
