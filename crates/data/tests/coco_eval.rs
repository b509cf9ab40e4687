//! `coco_eval` equals pycocotools' COCOeval on every statistic (fixtures made by
//! tools/make_coco_eval_fixtures.py with pycocotools).

mod common;

use montage_data::coco_eval::{evaluate, read_detections, read_ground_truth};

const NAMES: [&str; 12] = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"];

#[test]
fn equals_pycocotools_on_every_statistic() {
    let dir = common::fixtures().join("coco_eval");
    for case in ["mixed", "crowded", "empty_category", "perfect"] {
        let gt = read_ground_truth(&dir.join(format!("{case}_gt.json"))).unwrap();
        let dt = read_detections(&dir.join(format!("{case}_dt.json"))).unwrap();
        let want: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(format!("{case}_expected.json"))).unwrap()).unwrap();
        let got = evaluate(&gt, &dt).unwrap();
        for (name, v) in NAMES.iter().zip(got.stats.as_array()) {
            let w = want["stats"][name].as_f64().unwrap();
            assert!((v - w).abs() < 1e-4, "{case} {name}: ours {v} pycocotools {w}");
        }
        for (k, (id, _, ap)) in got.per_category.iter().enumerate() {
            let w = &want["per_category"][k];
            assert_eq!(w[0].as_u64().unwrap(), *id);
            assert!((ap - w[1].as_f64().unwrap()).abs() < 1e-4, "{case} category {id}: ours {ap} pycocotools {}", w[1]);
        }
    }
}

#[test]
fn detections_on_unknown_images_are_refused() {
    let dir = common::fixtures().join("coco_eval");
    let gt = read_ground_truth(&dir.join("mixed_gt.json")).unwrap();
    let mut dt = read_detections(&dir.join("mixed_dt.json")).unwrap();
    dt[5].image_id = 999_999;
    assert!(evaluate(&gt, &dt).unwrap_err().contains("detection [5]: image id 999999"));
}
