//! Pascal VOC xml: one file per image with `filename`, optional `size`, and `object`s with
//! `name`, `bndbox` (`xmin ymin xmax ymax`, pixels) and `difficult`.
//!
//! Boxes are read as `x = xmin, w = xmax - xmin` (no 1-pixel offset). `difficult` objects are
//! kept as crowd-like: never a positive sample, but negatives still avoid them. Categories are
//! the object names, sorted.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::{Parts, check_images};
use crate::dataset::{BoxChecker, ImageEntry, Object, resolve_under};
use crate::error::{DataError, Result};
use crate::geometry::BBox;

struct RawObject {
    name: String,
    bbox: BBox,
    difficult: bool,
    entry: String,
}

struct RawImage {
    xml: PathBuf,
    file_name: String,
    size: Option<(u32, u32)>,
    objects: Vec<RawObject>,
}

/// The xml files under `annotations` (a folder, sorted by name, or one file).
fn xml_files(annotations: &Path) -> Result<Vec<PathBuf>> {
    if !annotations.is_dir() {
        return Ok(vec![annotations.to_path_buf()]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(annotations)
        .map_err(|e| DataError::io(annotations, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("xml")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DataError::new(annotations, "holds no .xml files"));
    }
    Ok(files)
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|c| c.has_tag_name(name))
}

fn line_of(doc: &roxmltree::Document, node: roxmltree::Node) -> String {
    let p = doc.text_pos_at(node.range().start);
    format!("line {}", p.row)
}

fn parse_one(xml: &Path) -> Result<RawImage> {
    let text = std::fs::read_to_string(xml).map_err(|e| DataError::io(xml, e))?;
    let doc = roxmltree::Document::parse(&text).map_err(|e| DataError::at(xml, "document", e.to_string()))?;
    let root = doc.root_element();
    let text_of = |node: roxmltree::Node, tag: &str, what: &str| -> Result<String> {
        let c = child(node, tag).ok_or_else(|| {
            DataError::at(
                xml,
                format!("{} <{}>", line_of(&doc, node), node.tag_name().name()),
                format!("missing <{tag}> in {what}"),
            )
        })?;
        Ok(c.text().unwrap_or("").trim().to_string())
    };
    let number = |node: roxmltree::Node, tag: &str, what: &str| -> Result<f64> {
        let t = text_of(node, tag, what)?;
        t.parse::<f64>().map_err(|_| {
            let c = child(node, tag).unwrap();
            DataError::at(xml, format!("{} <{tag}>", line_of(&doc, c)), format!("{t:?} is not a number"))
        })
    };
    let file_name = text_of(root, "filename", "the annotation")?;
    let size = match child(root, "size") {
        Some(s) => {
            let w = number(s, "width", "<size>")?;
            let h = number(s, "height", "<size>")?;
            (w > 0.0 && h > 0.0).then_some((w as u32, h as u32))
        }
        None => None,
    };
    let mut objects = Vec::new();
    for obj in root.children().filter(|c| c.has_tag_name("object")) {
        let entry = format!("{} <object>", line_of(&doc, obj));
        let name = text_of(obj, "name", "<object>")?;
        if name.is_empty() {
            return Err(DataError::at(xml, entry, "empty <name>"));
        }
        let bb = child(obj, "bndbox").ok_or_else(|| DataError::at(xml, &entry, "missing <bndbox> in <object>"))?;
        let (x1, y1) = (number(bb, "xmin", "<bndbox>")?, number(bb, "ymin", "<bndbox>")?);
        let (x2, y2) = (number(bb, "xmax", "<bndbox>")?, number(bb, "ymax", "<bndbox>")?);
        let difficult = child(obj, "difficult").and_then(|d| d.text()).is_some_and(|t| t.trim() == "1");
        objects.push(RawObject { name, bbox: BBox::from_corners(x1, y1, x2, y2), difficult, entry });
    }
    Ok(RawImage { xml: xml.to_path_buf(), file_name, size, objects })
}

pub(crate) fn read(annotations: &Path, root: &Path, checker: &mut BoxChecker) -> Result<Parts> {
    let raws = xml_files(annotations)?.iter().map(|f| parse_one(f)).collect::<Result<Vec<_>>>()?;

    let names: Vec<String> = raws
        .iter()
        .flat_map(|r| r.objects.iter().map(|o| o.name.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();

    let mut seen: HashMap<&str, &Path> = HashMap::new();
    let mut images = Vec::with_capacity(raws.len());
    for (i, r) in raws.iter().enumerate() {
        resolve_under(root, &r.file_name, &r.xml, "<filename>")?;
        if let Some(other) = seen.insert(r.file_name.as_str(), &r.xml) {
            return Err(DataError::at(
                &r.xml,
                "<filename>",
                format!("image {} is also annotated by {}", r.file_name, other.display()),
            ));
        }
        images.push(ImageEntry {
            id: i as u64 + 1,
            file_name: r.file_name.clone(),
            width: 0,
            height: 0,
            objects: Vec::new(),
        });
    }
    let declared: Vec<_> = raws.iter().map(|r| r.size).collect();
    check_images(&mut images, root, &declared, |i| (raws[i].xml.clone(), "<filename>".to_string()))?;

    for (im, r) in images.iter_mut().zip(&raws) {
        for o in &r.objects {
            if let Some(bbox) = checker.check(o.bbox, im.width, im.height, &r.xml, &o.entry)? {
                im.objects.push(Object { category: index[o.name.as_str()], bbox, iscrowd: o.difficult });
            }
        }
    }
    let ids = (0..names.len() as u64).collect();
    Ok((names, ids, images))
}
