//! Readers on real data (../shared) and on committed malformed fixtures.

mod common;

use common::{fixtures, shared};
use montage_data::dataset::{Format, LoadOptions, load};
use montage_data::geometry::BBox;

fn load_err(ann: &str, images: &str, strict: bool) -> String {
    let f = fixtures();
    let e = load(&f.join(ann), &f.join(images), &LoadOptions { format: None, strict }).unwrap_err().to_string();
    assert!(!e.contains('\n'), "error must be one line: {e}");
    e
}

#[test]
fn coco_clipart_det_train() {
    let Some(d) = shared("clipart-det") else {
        return;
    };
    let ds = load(&d.join("annotations/train.json"), &d.join("train"), &LoadOptions::default()).unwrap();
    assert_eq!(ds.format, Format::Coco);
    assert_eq!(ds.images.len(), 600);
    assert_eq!(ds.num_objects(), 2092);
    assert_eq!(ds.categories.len(), 10);
    assert_eq!(ds.categories[0], "animals");
    // Sizes in the json agree with the files; every box is inside its image.
    for im in &ds.images {
        assert!((256..=512).contains(&im.width) && (256..=512).contains(&im.height));
        for o in &im.objects {
            assert!(BBox::new(0.0, 0.0, im.width as f64, im.height as f64).contains(&o.bbox, 0.0));
        }
    }
    assert_eq!(ds.images[0].file_name, "000001.jpg");
    assert_eq!((ds.images[0].width, ds.images[0].height), (288, 480));
}

#[test]
fn voc_deepforest() {
    let Some(d) = shared("deepforest") else {
        return;
    };
    let ds = load(&d, &d, &LoadOptions::default()).unwrap();
    assert_eq!(ds.format, Format::Voc);
    assert_eq!(ds.images.len(), 4);
    assert_eq!(ds.num_objects() + ds.report.skipped, 951);
    assert!(ds.categories.contains(&"Tree".to_string()));
    let osbs = ds.images.iter().find(|i| i.file_name == "OSBS_029.jpg").unwrap();
    assert_eq!((osbs.width, osbs.height), (400, 400));
    assert_eq!(osbs.objects.len(), 61);
    assert_eq!(osbs.objects[0].bbox, BBox::new(203.0, 67.0, 24.0, 23.0));
}

#[test]
fn coco_fixture_reads_sizes_from_headers_and_crowd() {
    let f = fixtures();
    let ds = load(&f.join("coco/good.json"), &f.join("images"), &LoadOptions::default()).unwrap();
    assert_eq!(ds.categories, vec!["cat", "dog"]);
    assert_eq!(ds.category_ids, vec![1, 3]);
    assert_eq!((ds.images[1].width, ds.images[1].height), (40, 40), "size read from the PNG header");
    assert_eq!(ds.images[0].objects[1].category, 1);
    assert!(ds.images[1].objects[0].iscrowd);
    assert_eq!(ds.report.skipped + ds.report.clipped, 0);
}

#[test]
fn coco_errors_name_file_and_entry() {
    let cases = [
        ("coco/syntax.json", ["syntax.json: ", "line 1 column"]),
        ("coco/missing_field.json", ["annotations[1]", "missing field `bbox`"]),
        ("coco/unknown_category.json", ["annotations[0] (id 10)", "unknown category id 7"]),
        ("coco/unknown_image.json", ["annotations[0] (id 10)", "unknown image id 9"]),
        ("coco/duplicate_image.json", ["images[2] (id 1)", "duplicate image id 1"]),
        ("coco/traversal.json", ["images[0] (id 1)", "not a plain relative path"]),
        ("coco/absolute.json", ["images[0] (id 1)", "not a plain relative path"]),
        ("coco/missing_image.json", ["images[0] (id 1, nope.png)", "does not exist"]),
        ("coco/broken_image.json", ["images[0] (id 1, broken.jpg)", "not a readable image"]),
        ("coco/wrong_size.json", ["images[0] (id 1, a.png)", "say 48x64"]),
        ("coco/bbox_length.json", ["annotations[0].bbox", "invalid length 3"]),
    ];
    for (file, needles) in cases {
        let e = load_err(file, "images", false);
        for n in needles {
            assert!(e.contains(n), "{file}: expected {n:?} in {e:?}");
        }
        assert!(e.contains(file.rsplit('/').next().unwrap()), "{e}");
    }
}

#[test]
fn bad_boxes_are_skipped_or_clipped_and_counted() {
    let f = fixtures();
    let ds = load(&f.join("coco/bad_boxes.json"), &f.join("images"), &LoadOptions::default()).unwrap();
    assert_eq!(ds.report.skipped, 3, "zero width, negative width, fully outside");
    assert_eq!(ds.report.clipped, 1);
    assert_eq!(ds.images[0].objects.len(), 1);
    assert_eq!(ds.images[0].objects[0].bbox, BBox::new(50.0, 40.0, 14.0, 8.0));
    assert_eq!(ds.images[1].objects.len(), 1);
    let summary = ds.report.summary().join("\n");
    assert!(summary.contains("annotations[0] (id 10)") && summary.contains("annotations[2] (id 12)"), "{summary}");
    let e = load_err("coco/bad_boxes.json", "images", true);
    assert!(e.contains("annotations[0] (id 10)") && e.contains("--strict"), "{e}");
}

#[test]
fn voc_fixture_and_errors() {
    let f = fixtures();
    let ds = load(&f.join("voc/good"), &f.join("images"), &LoadOptions::default()).unwrap();
    assert_eq!(ds.categories, vec!["bush", "tree"]);
    assert_eq!(ds.images.len(), 2);
    assert_eq!(ds.images[0].objects[0].bbox, BBox::new(1.0, 2.0, 10.0, 20.0));
    assert_eq!(ds.images[0].objects[1].bbox, BBox::new(30.0, 30.0, 34.0, 10.0), "clipped to 64 wide");
    assert!(ds.images[1].objects[0].iscrowd, "difficult objects are kept as crowd");
    assert_eq!((ds.report.clipped, ds.report.skipped), (1, 1));

    let e = load_err("voc/missing_bndbox.xml", "images", false);
    assert!(e.contains("missing_bndbox.xml: line 3 <object>: missing <bndbox>"), "{e}");
    let e = load_err("voc/bad_number.xml", "images", false);
    assert!(e.contains("bad_number.xml: line 5 <ymin>") && e.contains("\"x2\" is not a number"), "{e}");
    let e = load_err("voc/syntax.xml", "images", false);
    assert!(e.contains("syntax.xml: document:") && e.contains("4:"), "{e}");
    let e = load_err("voc/traversal.xml", "images", false);
    assert!(e.contains("traversal.xml: <filename>: file name \"../images/a.png\""), "{e}");
}

#[test]
fn yolo_fixture_and_errors() {
    let f = fixtures();
    let ds = load(&f.join("yolo/labels"), &f.join("yolo/images"), &LoadOptions::default()).unwrap();
    assert_eq!(ds.format, Format::Yolo);
    assert_eq!(ds.categories, vec!["car", "person"]);
    assert_eq!(ds.images.len(), 2);
    assert_eq!(ds.images[0].objects[0].bbox, BBox::new(40.0, 15.0, 20.0, 20.0));
    assert_eq!(ds.images[0].objects[1].bbox, BBox::new(70.0, 20.0, 30.0, 10.0), "clipped at the right edge");
    assert!(ds.images[1].objects.is_empty(), "an image without labels has no objects");
    assert_eq!(ds.report.clipped, 1);

    // classes.txt given directly: labels are in its folder.
    let ds2 = load(&f.join("yolo/labels/classes.txt"), &f.join("yolo/images"), &LoadOptions::default()).unwrap();
    assert_eq!(ds2.images, ds.images);

    let e = load_err("yolo/bad_fields", "yolo/images", false);
    assert!(e.contains("y1.txt: line 2: expected 5 fields"), "{e}");
    let e = load_err("yolo/bad_class", "yolo/images", false);
    assert!(e.contains("y2.txt: line 1: unknown category id 2"), "{e}");
    let e = load_err("yolo/orphan", "yolo/images", false);
    assert!(e.contains("zzz.txt: no image named zzz.*"), "{e}");
}

#[test]
fn format_detection_and_missing_paths() {
    let f = fixtures();
    let e = load_err("coco/nope.json", "images", false);
    assert!(e.contains("nope.json: does not exist"), "{e}");
    let e = load(&f.join("coco/good.json"), &f.join("no_such_dir"), &LoadOptions::default()).unwrap_err().to_string();
    assert!(e.contains("no_such_dir: image folder does not exist"), "{e}");
}
