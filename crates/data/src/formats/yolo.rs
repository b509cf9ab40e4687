//! YOLO txt labels: one `<stem>.txt` per image with lines `class cx cy w h`, all but the class
//! normalised to [0, 1]. Class names come from `data.yaml` (`names:` list or map) or
//! `classes.txt` (one name a line).
//!
//! `--annotations` may be the labels folder (names then come from a `classes.txt` or
//! `data.yaml` in it or up to two folders above), a `data.yaml` (labels: the images folder
//! with its last `images` component replaced by `labels`), or a `classes.txt` (labels: the
//! folder it lies in). An image without a label file has no objects, as in YOLO.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::{Parts, check_images};
use crate::dataset::{BoxChecker, ImageEntry, Object};
use crate::error::{DataError, Result};
use crate::geometry::BBox;

const IMAGE_EXTENSIONS: [&str; 8] = ["jpg", "jpeg", "png", "bmp", "webp", "tif", "tiff", "gif"];

fn has_ext(p: &Path, exts: &[&str]) -> bool {
    p.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

fn names_from_classes_txt(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let names: Vec<String> = text.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect();
    if names.is_empty() {
        return Err(DataError::new(path, "holds no class names"));
    }
    Ok(names)
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Names {
    List(Vec<String>),
    Map(BTreeMap<usize, String>),
}

#[derive(serde::Deserialize)]
struct DataYaml {
    names: Names,
}

fn names_from_yaml(path: &Path) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let y: DataYaml = serde_yaml_ng::from_str(&text).map_err(|e| DataError::at(path, "names", e.to_string()))?;
    let names = match y.names {
        Names::List(v) => v,
        Names::Map(m) => {
            for (i, k) in m.keys().enumerate() {
                if *k != i {
                    return Err(DataError::at(
                        path,
                        "names",
                        format!("class ids must be 0..{} without gaps; {i} is missing", m.len()),
                    ));
                }
            }
            m.into_values().collect()
        }
    };
    if names.is_empty() {
        return Err(DataError::at(path, "names", "no class names"));
    }
    Ok(names)
}

/// Finds the class-names file for a labels folder.
fn find_names(labels: &Path) -> Result<Vec<String>> {
    let mut dir = Some(labels);
    for _ in 0..3 {
        let Some(d) = dir else { break };
        for f in ["classes.txt", "data.yaml", "data.yml"] {
            let p = d.join(f);
            if p.is_file() {
                return if f == "classes.txt" { names_from_classes_txt(&p) } else { names_from_yaml(&p) };
            }
        }
        dir = d.parent();
    }
    Err(DataError::new(labels, "no classes.txt or data.yaml found here or up to two folders above"))
}

/// `images` with its last `images` component replaced by `labels`.
fn sibling_labels(images: &Path) -> Option<PathBuf> {
    let comps: Vec<_> = images.components().collect();
    let pos = comps.iter().rposition(|c| c.as_os_str() == "images")?;
    let mut p = PathBuf::new();
    for (i, c) in comps.iter().enumerate() {
        p.push(if i == pos { std::ffi::OsStr::new("labels") } else { c.as_os_str() });
    }
    Some(p)
}

pub(crate) fn read(annotations: &Path, root: &Path, checker: &mut BoxChecker) -> Result<Parts> {
    let (labels, names) = if annotations.is_dir() {
        (annotations.to_path_buf(), find_names(annotations)?)
    } else if has_ext(annotations, &["yaml", "yml"]) {
        let names = names_from_yaml(annotations)?;
        let labels = sibling_labels(root).filter(|p| p.is_dir()).ok_or_else(|| {
            DataError::new(
                annotations,
                format!(
                    "no labels folder beside {} (expected its 'images' component replaced by 'labels')",
                    root.display()
                ),
            )
        })?;
        (labels, names)
    } else {
        let names = names_from_classes_txt(annotations)?;
        (annotations.parent().unwrap_or(Path::new(".")).to_path_buf(), names)
    };

    let mut image_files: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| DataError::io(root, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && has_ext(p, &IMAGE_EXTENSIONS))
        .collect();
    image_files.sort();
    let mut by_stem: HashMap<String, usize> = HashMap::new();
    let mut images = Vec::with_capacity(image_files.len());
    for (i, p) in image_files.iter().enumerate() {
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        if let Some(j) = by_stem.insert(stem.clone(), i) {
            return Err(DataError::new(
                p,
                format!(
                    "two images share the stem {stem:?} (also {}); their labels would be ambiguous",
                    image_files[j].display()
                ),
            ));
        }
        images.push(ImageEntry { id: i as u64 + 1, file_name: name, width: 0, height: 0, objects: Vec::new() });
    }
    let declared = vec![None; images.len()];
    check_images(&mut images, root, &declared, |i| (image_files[i].clone(), "image".to_string()))?;

    let mut label_files: Vec<PathBuf> = std::fs::read_dir(&labels)
        .map_err(|e| DataError::io(&labels, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| has_ext(p, &["txt"]) && p.file_name().is_some_and(|n| n != "classes.txt"))
        .collect();
    label_files.sort();
    for lf in &label_files {
        let stem = lf.file_stem().unwrap().to_string_lossy().to_string();
        let Some(&ii) = by_stem.get(&stem) else {
            return Err(DataError::new(lf, format!("no image named {stem}.* in {}", root.display())));
        };
        let text = std::fs::read_to_string(lf).map_err(|e| DataError::io(lf, e))?;
        let im = &mut images[ii];
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let entry = format!("line {}", n + 1);
            let fields: Vec<&str> = line.split_whitespace().collect();
            if fields.len() != 5 {
                return Err(DataError::at(
                    lf,
                    entry,
                    format!("expected 5 fields 'class cx cy w h', found {}", fields.len()),
                ));
            }
            let class: usize = fields[0].parse().map_err(|_| {
                DataError::at(lf, &entry, format!("class {:?} is not a non-negative integer", fields[0]))
            })?;
            if class >= names.len() {
                return Err(DataError::at(
                    lf,
                    &entry,
                    format!("unknown category id {class} (there are {} class names)", names.len()),
                ));
            }
            let mut v = [0f64; 4];
            for (k, f) in fields[1..].iter().enumerate() {
                v[k] = f.parse().map_err(|_| DataError::at(lf, &entry, format!("{f:?} is not a number")))?;
            }
            let (w, h) = (im.width as f64, im.height as f64);
            let bbox = BBox::new((v[0] - v[2] / 2.0) * w, (v[1] - v[3] / 2.0) * h, v[2] * w, v[3] * h);
            if let Some(bbox) = checker.check(bbox, im.width, im.height, lf, &entry)? {
                im.objects.push(Object { category: class, bbox, iscrowd: false });
            }
        }
    }
    let ids = (0..names.len() as u64).collect();
    Ok((names, ids, images))
}
