//! Montage assembly, the crop cache and the loader, on synthetic images whose pixels are known.

mod common;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fast_image_resize::Resizer;
use montage_data::assemble::{Assembler, FitMode, FitParams, Placement, Pools, render};
use montage_data::cache::{self, CropCache};
use montage_data::dataset::{LoadOptions, load};
use montage_data::geometry::{BBox, Rect};
use montage_data::loader::{Loader, LoaderConfig, MontageMaker};
use montage_data::sample::{SampleConfig, select};
use montage_data::samples_file::{self, SampleSet};
use montage_data::source::{ImageSource, PixelSource, SampleView};
use montage_data::template::Template;

const COLORS: [[u8; 3]; 4] = [[250, 10, 10], [10, 250, 10], [10, 10, 250], [200, 200, 20]];

/// Four solid-colour images and a sample file with 2 S, 1 T and 1 W sample (one per image).
fn solid_set(dir: &Path) -> PathBuf {
    for (i, c) in COLORS.iter().enumerate() {
        image::RgbImage::from_pixel(300, 200, image::Rgb(*c)).save(dir.join(format!("{i}.png"))).unwrap();
    }
    let lines = [
        r#"{"image":"0.png","bbox":[10.5,20.25,50.0,40.0],"category":"a","group":"S","gt_bbox":null}"#,
        r#"{"image":"1.png","bbox":[0.0,0.0,180.0,150.0],"category":"b","group":"S","gt_bbox":null}"#,
        r#"{"image":"2.png","bbox":[100.0,3.0,30.0,190.0],"category":"c","group":"T","gt_bbox":null}"#,
        r#"{"image":"3.png","bbox":[0.0,50.0,297.5,60.0],"category":"background","group":"W","gt_bbox":null}"#,
    ];
    let p = dir.join("samples.jsonl");
    std::fs::write(&p, lines.join("\n") + "\n").unwrap();
    p
}

fn assembler(seed: u64) -> Assembler {
    Assembler { template: Template::default(), mode: FitMode::PadCrop, params: FitParams::default(), seed }
}

#[test]
fn solid_montages_are_exact_pixel_for_pixel() {
    let dir = tempfile::tempdir().unwrap();
    let set = SampleSet::read(&solid_set(dir.path())).unwrap();
    let pools = Pools::new(&set).unwrap();
    let src = ImageSource::new(dir.path());
    let mut rz = Resizer::new();
    for mode in [FitMode::PadCrop, FitMode::Warp, FitMode::Resize] {
        for i in 0..12 {
            let a = Assembler { mode, ..assembler(3) };
            let m = a.assemble(&set, &pools, &src, i, &mut rz).unwrap();
            let l = &m.layout;
            // R1 holds the smaller S sample (image 0), R4 the larger (image 1), R2 the W, R3 the T.
            assert_eq!(l.samples, [0, 3, 2, 1]);
            assert_eq!(l.labels, [0, 3, 2, 1], "classes a, background (3), c, b");
            let regions = l.regions();
            for y in 0..224u32 {
                for x in 0..224u32 {
                    let r = l.region_at(x, y);
                    assert!(regions[r].contains_point(x, y));
                    let px = &m.rgb[(y as usize * 224 + x as usize) * 3..][..3];
                    let want: [u8; 3] =
                        if l.content[r].contains_point(x, y) { COLORS[l.samples[r] % 4] } else { [0, 0, 0] };
                    assert_eq!(px, want, "{mode:?} montage {i} pixel ({x}, {y}) region R{}", r + 1);
                }
            }
            if mode == FitMode::Warp {
                assert_eq!(l.content, regions);
            }
        }
    }
}

fn gradient_px(x: u32, y: u32) -> [u8; 3] {
    [(x * 5) as u8, (y * 8) as u8, ((x * 3 + y * 7) % 256) as u8]
}

#[test]
fn render_golden_identity_scale_with_flip() {
    let (w, h) = (50u32, 30u32);
    let pixels: Vec<u8> = (0..h).flat_map(|y| (0..w).flat_map(move |x| gradient_px(x, y))).collect();
    let view = SampleView {
        pixels: Cow::Owned(pixels),
        width: w,
        height: h,
        bbox: BBox::new(10.0, 5.0, 20.0, 12.0),
        origin: PathBuf::from("gradient"),
    };
    for flip in [false, true] {
        // Visible: columns 15..25 and rows 5..17 of the image, at scale 1, into (3, 4, 10, 12).
        let p = Placement { crop: [0.25, 0.0, 0.5, 1.0], dst: Rect::new(3, 4, 10, 12), flip, scaled: (20, 12) };
        let side = 32u32;
        let mut canvas = vec![0u8; (side * side * 3) as usize];
        render(&view, &p, &mut canvas, side, &mut Resizer::new()).unwrap();
        for y in 0..side {
            for x in 0..side {
                let got = &canvas[((y * side + x) * 3) as usize..][..3];
                let want = if p.dst.contains_point(x, y) {
                    let k = x - 3;
                    let sx = if flip { 15 + 9 - k } else { 15 + k };
                    gradient_px(sx, 5 + (y - 4))
                } else {
                    [0, 0, 0]
                };
                assert_eq!(got, want, "flip {flip} ({x}, {y})");
            }
        }
    }
}

/// Samples of the embedded default data set, written to `dir`.
fn default_samples(dir: &Path) -> (PathBuf, PathBuf) {
    let d = common::default_data();
    let ds = load(&d.join("annotations/train.json"), &d.join("train"), &LoadOptions::default()).unwrap();
    let samples = select(&ds, &SampleConfig { seed: 5, ..Default::default() });
    let p = dir.join("samples.jsonl");
    samples_file::write(&p, &samples_file::records(&ds, &samples)).unwrap();
    (p, d.join("train"))
}

fn maker(set: &Arc<SampleSet>, source: Arc<dyn PixelSource>, seed: u64) -> MontageMaker {
    MontageMaker::new(assembler(seed), set.clone(), source).unwrap()
}

fn collect(maker: MontageMaker, threads: usize, start: u64, batches: usize) -> Vec<montage_data::loader::Batch> {
    let mut l = Loader::new(maker, &LoaderConfig { batch: 3, threads, prefetch: 2, start }).unwrap();
    (0..batches).map(|_| l.next_batch().unwrap()).collect()
}

#[test]
fn loader_is_identical_for_any_thread_count_and_resumes_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let (samples, images) = default_samples(dir.path());
    let set = Arc::new(SampleSet::read(&samples).unwrap());
    let src: Arc<dyn PixelSource> = Arc::new(ImageSource::new(&images));
    let one = collect(maker(&set, src.clone(), 11), 1, 0, 3);
    let two = collect(maker(&set, src.clone(), 11), 2, 0, 3);
    for (a, b) in one.iter().zip(&two) {
        assert_eq!(a.first, b.first);
        assert_eq!(a.layouts, b.layouts);
        assert!(a.data == b.data, "pixels differ between 1 and 2 threads");
    }
    assert_eq!(one[0].data.len(), 3 * 3 * 224 * 224);
    // A loader started at montage 3 sees what the first one saw from there on.
    let resumed = collect(maker(&set, src.clone(), 11), 2, 3, 2);
    assert_eq!(resumed[0].layouts, one[1].layouts);
    assert!(resumed[1].data == one[2].data);
    // Another seed gives other montages.
    let other = collect(maker(&set, src, 12), 1, 0, 1);
    assert_ne!(other[0].layouts, one[0].layouts);
}

#[test]
fn cache_matches_images_and_refuses_what_it_was_not_built_from() {
    let dir = tempfile::tempdir().unwrap();
    let (samples, images) = default_samples(dir.path());
    let set = Arc::new(SampleSet::read(&samples).unwrap());
    let out = dir.path().join("sub/crops.bin");
    cache::build(&set, &images, &out, cache::DEFAULT_MAX_SIDE, &|_| {}).unwrap();
    let leftovers: Vec<_> =
        std::fs::read_dir(dir.path().join("sub")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers, vec!["crops.bin"], "no temporary file is left behind");

    let c: Arc<dyn PixelSource> = Arc::new(CropCache::open(&out, &set, &images).unwrap());
    let from_cache = collect(maker(&set, c, 4), 2, 0, 2);
    let from_images = collect(maker(&set, Arc::new(ImageSource::new(&images)), 4), 2, 0, 2);
    for (a, b) in from_cache.iter().zip(&from_images) {
        assert_eq!(a.layouts, b.layouts);
        let mad = a.data.iter().zip(&b.data).map(|(x, y)| (x - y).abs() as f64).sum::<f64>() / a.data.len() as f64;
        // Normalised units: 0.02 is about 1.2 grey levels on average.
        assert!(mad < 0.02, "cache and images differ by {mad} on average");
    }

    // Other samples: refused.
    let mut other = std::fs::read_to_string(&samples).unwrap();
    other = other.replacen('\n', "\n\n", 1);
    let other_path = dir.path().join("other.jsonl");
    std::fs::write(&other_path, other).unwrap();
    let other_set = SampleSet::read(&other_path).unwrap();
    let e = CropCache::open(&out, &other_set, &images).err().unwrap().to_string();
    assert!(e.contains("crops.bin") && e.contains("other samples"), "{e}");

    // A template that needs larger crops than were stored: refused.
    let small = dir.path().join("small.bin");
    cache::build(&set, &images, &small, 100, &|_| {}).unwrap();
    let e = CropCache::open(&small, &set, &images)
        .unwrap()
        .check_template(&Template::default(), 1.5)
        .unwrap_err()
        .to_string();
    assert!(e.contains("needs 240 px"), "{e}");

    // A truncated file: refused.
    let bytes = std::fs::read(&out).unwrap();
    let cut = dir.path().join("cut.bin");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = CropCache::open(&cut, &set, &images).err().unwrap().to_string();
    assert!(e.contains("cut.bin: not a montage crop cache"), "{e}");
}

#[test]
fn cache_refuses_changed_images_and_failed_builds_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let set = SampleSet::read(&solid_set(dir.path())).unwrap();
    let out = dir.path().join("c.bin");
    cache::build(&set, dir.path(), &out, 240, &|_| {}).unwrap();
    assert!(CropCache::open(&out, &set, dir.path()).is_ok());
    image::RgbImage::from_pixel(300, 200, image::Rgb([1, 2, 3])).save(dir.path().join("2.png")).unwrap();
    let e = CropCache::open(&out, &set, dir.path()).err().unwrap().to_string();
    assert!(e.contains("changed since the cache was built"), "{e}");

    std::fs::remove_file(dir.path().join("3.png")).unwrap();
    let out2 = dir.path().join("d.bin");
    let e = cache::build(&set, dir.path(), &out2, 240, &|_| {}).unwrap_err().to_string();
    assert!(e.contains("3.png"), "{e}");
    assert!(!out2.exists());
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().ends_with(".tmp"))
    );
}

#[test]
fn empty_groups_borrow_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.jsonl");
    std::fs::write(
        &p,
        "{\"image\":\"a.png\",\"bbox\":[0,0,10,10],\"category\":\"x\",\"group\":\"S\",\"gt_bbox\":null}\n",
    )
    .unwrap();
    let set = SampleSet::read(&p).unwrap();
    let pools = Pools::new(&set).unwrap();
    assert_eq!(pools.notes.len(), 2, "{:?}", pools.notes);
    assert!(pools.by_group.iter().all(|g| g == &vec![0]));
}

#[test]
fn sample_files_are_byte_identical_for_a_seed() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (pa, _) = default_samples(a.path());
    let (pb, _) = default_samples(b.path());
    assert_eq!(std::fs::read(pa).unwrap(), std::fs::read(pb).unwrap());
}

#[test]
fn sample_file_errors_name_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.jsonl");
    let good = r#"{"image":"a.png","bbox":[0,0,10,10],"category":"x","group":"S","gt_bbox":null}"#;
    for (bad, needle) in [
        (r#"{"image":"a.png","bbox":[0,0,10,10],"category":"x","group":"T","gt_bbox":null}"#, "group T does not match"),
        (
            r#"{"image":"../a.png","bbox":[0,0,10,10],"category":"x","group":"S","gt_bbox":null}"#,
            "not a plain relative path",
        ),
        (r#"{"image":"a.png","bbox":[0,0,0,10],"category":"x","group":"S","gt_bbox":null}"#, "not a proper box"),
        (r#"{"image":"a.png","bbox":[0,0,10,10],"category":"x","group":"Q","gt_bbox":null}"#, "unknown variant `Q`"),
        (r#"{"image":"a.png","bbox":[0,0,10,10]"#, "EOF"),
    ] {
        std::fs::write(&p, format!("{good}\n{bad}\n")).unwrap();
        let e = SampleSet::read(&p).unwrap_err().to_string();
        assert!(e.contains("s.jsonl: line 2: ") && e.contains(needle), "{e}");
    }
}
