//! Property tests of the method's invariants.

use std::path::PathBuf;

use montage_data::assemble::{FitMode, FitParams, plan};
use montage_data::dataset::{Dataset, Format, ImageEntry, LoadReport, Object};
use montage_data::geometry::{BBox, Rect};
use montage_data::group::Group;
use montage_data::rng::{Purpose, stream};
use montage_data::sample::{Label, SampleConfig, select};
use montage_data::template::{Layout, Split, Template, regions};
use proptest::prelude::*;

fn image_strategy() -> impl Strategy<Value = ImageEntry> {
    (16u32..400, 16u32..400).prop_flat_map(|(w, h)| {
        let obj = (
            0.0..w as f64 - 1.0,
            0.0..h as f64 - 1.0,
            1.0..w as f64,
            1.0..h as f64,
            0usize..3,
            prop::bool::weighted(0.1),
        )
            .prop_map(move |(x, y, bw, bh, c, crowd)| Object {
                category: c,
                bbox: BBox::new(x, y, bw.min(w as f64 - x), bh.min(h as f64 - y)),
                iscrowd: crowd,
            });
        prop::collection::vec(obj, 0..8).prop_map(move |objects| ImageEntry {
            id: 0,
            file_name: "x.jpg".into(),
            width: w,
            height: h,
            objects,
        })
    })
}

fn dataset_strategy() -> impl Strategy<Value = Dataset> {
    prop::collection::vec(image_strategy(), 1..6).prop_map(|mut images| {
        for (i, im) in images.iter_mut().enumerate() {
            im.id = i as u64 + 1;
            im.file_name = format!("{i}.jpg");
        }
        Dataset {
            format: Format::Coco,
            annotations: PathBuf::from("a.json"),
            image_root: PathBuf::from("."),
            categories: vec!["a".into(), "b".into(), "c".into()],
            category_ids: vec![0, 1, 2],
            images,
            report: LoadReport::default(),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn samples_obey_the_method(ds in dataset_strategy(), seed in any::<u64>(), ratio in 0.0f64..2.0) {
        let cfg = SampleConfig { seed, neg_ratio: ratio, ..Default::default() };
        let samples = select(&ds, &cfg);
        let positives = ds.images.iter().flat_map(|i| &i.objects).filter(|o| !o.iscrowd).count();
        prop_assert_eq!(samples.iter().filter(|s| s.label != Label::Background).count(), positives);
        let negatives = samples.iter().filter(|s| s.label == Label::Background).count();
        prop_assert!(negatives <= (positives as f64 * ratio).round() as usize);
        for s in &samples {
            let im = &ds.images[s.image];
            let frame = BBox::new(0.0, 0.0, im.width as f64, im.height as f64);
            prop_assert!(s.bbox.is_proper(), "{:?}", s);
            prop_assert!(frame.contains(&s.bbox, 1e-9), "sample outside its image: {:?} in {}x{}", s.bbox, im.width, im.height);
            prop_assert_eq!(s.group, Group::of_aspect(s.bbox.aspect()));
            match s.label {
                Label::Background => {
                    prop_assert!(s.gt_bbox.is_none());
                    for o in &im.objects {
                        prop_assert_eq!(o.bbox.intersection(&s.bbox), 0.0, "negative {:?} touches {:?}", s.bbox, o.bbox);
                    }
                }
                Label::Category(_) => {
                    let gt = s.gt_bbox.unwrap();
                    prop_assert!(s.bbox.contains(&gt, 1e-9), "positive {:?} does not hold its box {:?}", s.bbox, gt);
                    prop_assert!(s.bbox.w <= 2.0 * gt.w + 0.02 && s.bbox.h <= 2.0 * gt.h + 0.02, "grown more than 2x: {:?} from {:?}", s.bbox, gt);
                }
            }
        }
        // Same seed, same samples.
        prop_assert_eq!(select(&ds, &cfg), samples);
    }

    #[test]
    fn padcrop_never_warps(w in 2.0f64..2000.0, aspect in 0.05f64..20.0, rw in 8u32..300, rh in 8u32..300, idx in any::<u64>()) {
        let h = (w / aspect).max(2.0);
        let region = Rect::new(10, 20, rw, rh);
        let mut rng = stream(1, Purpose::Montage, idx);
        let p = plan(FitMode::PadCrop, w, h, region, &FitParams::default(), &mut rng);
        let fit = (rw as f64 / w).min(rh as f64 / h);
        prop_assert!(region.contains_rect(&p.dst), "{:?} outside {:?}", p.dst, region);
        for v in p.crop { prop_assert!((0.0..=1.0 + 1e-12).contains(&v)); }
        prop_assert!(p.crop[0] + p.crop[2] <= 1.0 + 1e-12 && p.crop[1] + p.crop[3] <= 1.0 + 1e-12);
        let (nw, nh) = (p.scaled.0 as f64, p.scaled.1 as f64);
        // The rescale keeps the aspect ratio up to rounding, with a factor in [0.8, 1.5] of the fit.
        if w.min(h) * fit * 0.8 >= 1.0 {
            let (sx, sy) = (nw / w, nh / h);
            prop_assert!((sx - sy).abs() <= 0.5 / w + 0.5 / h + 1e-12, "warped: sx {sx} sy {sy}");
            prop_assert!(sx >= 0.8 * fit - 0.5 / w - 1e-12 && sx <= 1.5 * fit + 0.5 / w + 1e-12);
        }
        // Cropped where larger, padded where smaller.
        prop_assert_eq!(p.dst.w as f64, nw.min(rw as f64));
        prop_assert_eq!(p.dst.h as f64, nh.min(rh as f64));
        // The visible part maps 1:1 to the destination at the rescaled size.
        prop_assert!((p.crop[2] * nw - p.dst.w as f64).abs() < 1e-6 && (p.crop[3] * nh - p.dst.h as f64).abs() < 1e-6);
    }

    #[test]
    fn warp_fills_and_resize_fits(w in 2.0f64..2000.0, h in 2.0f64..2000.0, rw in 8u32..300, rh in 8u32..300, idx in any::<u64>()) {
        let region = Rect::new(0, 0, rw, rh);
        let p = plan(FitMode::Warp, w, h, region, &FitParams::default(), &mut stream(2, Purpose::Montage, idx));
        prop_assert_eq!(p.dst, region);
        prop_assert_eq!(p.crop, [0.0, 0.0, 1.0, 1.0]);
        let p = plan(FitMode::Resize, w, h, region, &FitParams::default(), &mut stream(2, Purpose::Montage, idx));
        prop_assert!(region.contains_rect(&p.dst));
        prop_assert_eq!(p.crop, [0.0, 0.0, 1.0, 1.0]);
        prop_assert!(p.dst.w == rw || p.dst.h == rh, "just fits along one side: {:?} in {:?}", p.dst, region);
    }

    #[test]
    fn regions_partition_the_canvas((canvas, sx, sy) in (4u32..300).prop_flat_map(|c| (Just(c), 1..c, 1..c))) {
        let r = regions(canvas, sx, sy);
        prop_assert_eq!(r.iter().map(|r| r.area()).sum::<u64>(), canvas as u64 * canvas as u64);
        let l = Layout { canvas, split_x: sx, split_y: sy, labels: [0; 4], samples: [0; 4], content: r };
        for (x, y) in [(0, 0), (canvas - 1, 0), (0, canvas - 1), (canvas - 1, canvas - 1), (sx, sy), (sx - 1, sy - 1)] {
            let i = l.region_at(x, y);
            prop_assert!(r[i].contains_point(x, y));
            prop_assert_eq!(r.iter().filter(|q| q.contains_point(x, y)).count(), 1);
        }
    }

    #[test]
    fn random_split_stays_in_range(idx in any::<u64>()) {
        let t = Template { canvas: 224, split: Split::Random { min: 32, max: 96, step: 32 } };
        let (sx, sy) = t.draw(&mut stream(3, Purpose::Montage, idx));
        prop_assert!([32, 64, 96].contains(&sx) && [32, 64, 96].contains(&sy));
    }
}
