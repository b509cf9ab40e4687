//! The CLI's contract, run as a user would run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn montage(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_montage")).args(args).output().expect("montage runs")
}

fn data() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/clipart-mini")
}

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data/tests/fixtures")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// Fails with a single `error: ...` line on stderr that contains every needle.
fn fails_with(o: &Output, needles: &[&str]) {
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<_> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(lines[0].contains(n), "expected {n:?} in {err}");
    }
}

fn sample(out: &Path, seed: &str) -> String {
    let d = data();
    ok(&montage(&[
        "sample",
        "--annotations",
        s(&d.join("annotations/train.json")),
        "--images",
        s(&d.join("train")),
        "--out",
        s(out),
        "--seed",
        seed,
    ]))
}

#[test]
fn sample_contract() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (dir.path().join("a.jsonl"), dir.path().join("b.jsonl"), dir.path().join("c.jsonl"));
    let text = sample(&a, "3");
    sample(&b, "3");
    sample(&c, "4");
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap(), "same seed, same bytes");
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
    for k in ["per group:", "  S ", "  T ", "  W ", "per category:", "animals", "background"] {
        assert!(text.contains(k), "{k:?} missing from {text}");
    }
    let body = std::fs::read_to_string(&a).unwrap();
    let mut negatives = 0;
    for line in body.lines() {
        assert!(line.starts_with("{\"image\":"), "{line}");
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let keys: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 5);
        for k in ["image", "bbox", "category", "group", "gt_bbox"] {
            assert!(keys.contains(&k.to_string()));
        }
        assert_eq!(v["bbox"].as_array().unwrap().len(), 4);
        assert!(["S", "T", "W"].contains(&v["group"].as_str().unwrap()));
        if v["category"] == "background" {
            negatives += 1;
            assert!(v["gt_bbox"].is_null());
        } else {
            assert_eq!(v["gt_bbox"].as_array().unwrap().len(), 4);
        }
    }
    let total = body.lines().count();
    assert_eq!(negatives, ((total - negatives) as f64 * 0.1).round() as usize, "pos:neg = 10:1");
}

#[test]
fn preview_cache_and_bench() {
    let dir = tempfile::tempdir().unwrap();
    let samples = dir.path().join("s.jsonl");
    sample(&samples, "0");
    let images = data().join("train");
    let prev = dir.path().join("prev");
    ok(&montage(&[
        "preview",
        "--samples",
        s(&samples),
        "--images",
        s(&images),
        "--out",
        s(&prev),
        "--count",
        "3",
        "--mode",
        "warp",
    ]));
    for i in 0..3 {
        let plain = image::open(prev.join(format!("montage_{i:03}.png"))).unwrap();
        assert_eq!((plain.width(), plain.height()), (224, 224));
        let ann = image::open(prev.join(format!("montage_{i:03}_annotated.png"))).unwrap();
        assert_eq!((ann.width(), ann.height()), (448, 448));
    }
    assert_eq!(std::fs::read_to_string(prev.join("layouts.jsonl")).unwrap().lines().count(), 3);

    let cache = dir.path().join("crops.bin");
    let out = ok(&montage(&["cache", "--samples", s(&samples), "--images", s(&images), "--out", s(&cache)]));
    assert!(out.contains("wrote") && cache.is_file(), "{out}");
    ok(&montage(&[
        "preview",
        "--samples",
        s(&samples),
        "--images",
        s(&images),
        "--cache",
        s(&cache),
        "--out",
        s(&prev),
        "--count",
        "1",
    ]));

    for (src, extra) in [("images", vec![]), ("cache", vec!["--cache", s(&cache)])] {
        let mut args = vec![
            "bench",
            "data",
            "--samples",
            s(&samples),
            "--images",
            s(&images),
            "--threads",
            "2",
            "--count",
            "8",
            "--repeat",
            "1",
        ];
        args.extend(extra);
        let line = ok(&montage(&args));
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["source"], src);
        assert_eq!(v["threads"], 2);
        assert!(v["montages_per_s"].as_f64().unwrap() > 0.0);
    }

    // A cache of other samples is refused with a one-line error.
    let other = dir.path().join("other.jsonl");
    sample(&other, "9");
    fails_with(
        &montage(&["preview", "--samples", s(&other), "--images", s(&images), "--cache", s(&cache), "--out", s(&prev)]),
        &["crops.bin", "other samples"],
    );
}

#[test]
fn bad_input_is_one_line_naming_file_and_entry() {
    let f = fixtures();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.jsonl");
    let images = f.join("images");
    let run = |ann: &str, strict: bool| {
        let ann = f.join(ann);
        let mut a = vec!["sample", "--annotations", s(&ann), "--images", s(&images), "--out", s(&out)];
        if strict {
            a.push("--strict");
        }
        montage(&a)
    };
    fails_with(
        &run("coco/missing_field.json", false),
        &["missing_field.json", "annotations[1]", "missing field `bbox`"],
    );
    fails_with(&run("coco/traversal.json", false), &["traversal.json", "images[0]", "'..' are refused"]);
    fails_with(&run("coco/broken_image.json", false), &["broken_image.json", "broken.jpg"]);
    fails_with(&run("coco/bad_boxes.json", true), &["bad_boxes.json", "annotations[0] (id 10)", "--strict"]);
    assert!(!out.exists(), "nothing is written on error");

    // Without --strict: warnings with counts and the first entries, and a sample file.
    let o = run("coco/bad_boxes.json", false);
    ok(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("skipped 3 box(es)")
            && err.contains("clipped 1 box(es)")
            && err.contains("annotations[2] (id 12)"),
        "{err}"
    );

    fails_with(
        &montage(&["sample", "--annotations", "nope.json", "--images", ".", "--out", s(&out)]),
        &["nope.json", "does not exist"],
    );
    let good = f.join("coco/good.json");
    fails_with(
        &montage(&["preview", "--samples", s(&good), "--images", ".", "--out", s(dir.path())]),
        &["good.json: line 1"],
    );
}

#[test]
fn help_teaches() {
    let top = ok(&montage(&["--help"]));
    for k in ["sample", "cache", "preview", "check", "bench", "montage sample"] {
        assert!(top.contains(k), "{k:?} missing from --help");
    }
    let h = ok(&montage(&["sample", "--help"]));
    for k in ["--annotations", "--images", "--out", "--seed", "--neg-ratio", "--format", "--strict", "gt_bbox"] {
        assert!(h.contains(k), "{k:?} missing from sample --help");
    }
    let h = ok(&montage(&["bench", "data", "--help"]));
    for k in ["--samples", "--images", "--cache", "--threads", "--count", "montages_per_s"] {
        assert!(h.contains(k), "{k:?} missing from bench data --help");
    }
}

#[test]
fn pretrain_resume_export_features_erf() {
    let dir = tempfile::tempdir().unwrap();
    let d = data();
    let out = dir.path().join("run");
    let cfg = dir.path().join("pre.toml");
    // The file sets everything; a flag (--iters) overrides it.
    std::fs::write(
        &cfg,
        "size = 64\nbatch = 2\niters = 99\ncheckpoint_every = 2\nerf_every = 2\nbackbone = \"resnet18\"\n",
    )
    .unwrap();
    let ann = d.join("annotations/train.json");
    let images = d.join("train");
    let base = [
        "pretrain",
        "--annotations",
        s(&ann),
        "--images",
        s(&images),
        "--out",
        s(&out),
        "--config",
        s(&cfg),
        "--iters",
        "3",
    ];
    let line = ok(&montage(&base));
    let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    assert_eq!(v["iters"], 3);
    for f in
        ["metrics.jsonl", "loss.png", "accuracy.png", "backbone.safetensors", "samples.jsonl", "checkpoint/state.json"]
    {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let metrics = std::fs::read_to_string(out.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 3);
    for l in metrics.lines() {
        let m: serde_json::Value = serde_json::from_str(l).unwrap();
        for k in ["iter", "loss", "lr", "montages_per_s", "region_acc"] {
            assert!(!m[k].is_null(), "{k} missing in {l}");
        }
    }
    // --resume on a finished run changes nothing.
    let before = std::fs::read(out.join("backbone.safetensors")).unwrap();
    let mut resumed = base.to_vec();
    resumed.push("--resume");
    ok(&montage(&resumed));
    assert_eq!(std::fs::read(out.join("backbone.safetensors")).unwrap(), before);
    // Other options on resume: refused with one line.
    let mut other = resumed.clone();
    other.extend(["--loss", "global"]);
    fails_with(&montage(&other), &["other options"]);

    let exported = dir.path().join("r18.safetensors");
    ok(&montage(&["export", "--checkpoint", s(&out), "--out", s(&exported)]));
    assert_eq!(std::fs::read(&exported).unwrap(), before, "export of the final checkpoint = the run's backbone");

    let npy = dir.path().join("f.npy");
    ok(&montage(&[
        "features",
        "--weights",
        s(&exported),
        "--backbone",
        "resnet18",
        "--image",
        s(&images.join("000001.jpg")),
        "--out",
        s(&npy),
        "--size",
        "64",
    ]));
    let bytes = std::fs::read(&npy).unwrap();
    assert!(bytes.starts_with(b"\x93NUMPY"));
    assert!(String::from_utf8_lossy(&bytes[..128]).contains("'shape': (1, 512, 2, 2)"));
    assert_eq!(bytes.len() % 64, (512 * 2 * 2 * 4) % 64);

    let erf = dir.path().join("erf");
    ok(&montage(&[
        "erf",
        "--weights",
        s(&exported),
        "--samples",
        s(&out.join("samples.jsonl")),
        "--images",
        s(&images),
        "--out",
        s(&erf),
        "--size",
        "64",
    ]));
    for f in ["erf_grid.png", "weight_R1.png", "weight_R4.png", "erf.json"] {
        assert!(erf.join(f).is_file(), "{f} missing");
    }
    let w: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(erf.join("erf.json")).unwrap()).unwrap();
    for p in w["weights"].as_array().unwrap() {
        let sum: f64 = p.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-4);
    }

    // A bad config key: one line naming the file.
    std::fs::write(&cfg, "sise = 64\n").unwrap();
    fails_with(&montage(&base), &["pre.toml", "sise"]);
}

#[test]
fn evaluate_prints_the_twelve_statistics() {
    let dir = fixtures().join("coco_eval");
    let out = ok(&montage(&[
        "evaluate",
        "--annotations",
        s(&dir.join("crowded_gt.json")),
        "--detections",
        s(&dir.join("crowded_dt.json")),
    ]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 12);
    let want: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("crowded_expected.json")).unwrap()).unwrap();
    for k in ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"] {
        assert!((v[k].as_f64().unwrap() - want["stats"][k].as_f64().unwrap()).abs() < 1e-4, "{k}");
    }
    let out = ok(&montage(&[
        "evaluate",
        "--annotations",
        s(&dir.join("crowded_gt.json")),
        "--detections",
        s(&dir.join("crowded_dt.json")),
        "--per-category",
    ]));
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["per_category"].as_array().unwrap().len(), 2);
    fails_with(
        &montage(&[
            "evaluate",
            "--annotations",
            s(&dir.join("crowded_dt.json")),
            "--detections",
            s(&dir.join("crowded_dt.json")),
        ]),
        &["crowded_dt.json"],
    );
}

#[test]
fn finetune_detect_evaluate() {
    let dir = tempfile::tempdir().unwrap();
    let d = data();
    let out = dir.path().join("ft");
    let cfg = dir.path().join("det.toml");
    std::fs::write(&cfg, "channels = 32\ntower = 1\n").unwrap();
    let (ann, img) = (d.join("annotations/train.json"), d.join("train"));
    let (vann, vimg) = (d.join("annotations/val.json"), d.join("val"));
    let args = [
        "finetune",
        "--annotations",
        s(&ann),
        "--images",
        s(&img),
        "--val-annotations",
        s(&vann),
        "--val-images",
        s(&vimg),
        "--out",
        s(&out),
        "--iters",
        "2",
        "--batch",
        "1",
        "--min-size",
        "64",
        "--config",
        s(&cfg),
        "--checkpoint-every",
        "1",
    ];
    let line = ok(&montage(&args));
    let v: serde_json::Value = serde_json::from_str(line.lines().last().unwrap()).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]);
    for f in ["metrics.jsonl", "eval.json", "eval.jsonl", "loss.png", "ap.png", "checkpoint/state.json"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    assert_eq!(std::fs::read_to_string(out.join("metrics.jsonl")).unwrap().lines().count(), 2);

    let dets = dir.path().join("dets.json");
    ok(&montage(&[
        "detect",
        "--checkpoint",
        s(&out),
        "--images",
        s(&vimg),
        "--annotations",
        s(&vann),
        "--out",
        s(&dets),
        "--score-thresh",
        "0.0",
    ]));
    let list: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&dets).unwrap()).unwrap();
    for det in list.as_array().unwrap() {
        for k in ["image_id", "category_id", "bbox", "score"] {
            assert!(!det[k].is_null(), "{k} missing");
        }
    }
    ok(&montage(&["evaluate", "--annotations", s(&vann), "--detections", s(&dets)]));
    // Without annotations: images numbered in name order.
    ok(&montage(&["detect", "--checkpoint", s(&out), "--images", s(&vimg), "--out", s(&dets)]));
}
