//! COCO instances json: `images` (id, file_name, width, height), `annotations`
//! (image_id, category_id, bbox `[x, y, w, h]`, iscrowd) and `categories` (id, name).

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use super::{Parts, check_images};
use crate::dataset::{BoxChecker, ImageEntry, Object, resolve_under};
use crate::error::{DataError, Result};
use crate::geometry::BBox;
use crate::io::read_json;

#[derive(Deserialize)]
struct CocoFile {
    images: Vec<CocoImage>,
    #[serde(default)]
    annotations: Vec<CocoAnnotation>,
    categories: Vec<CocoCategory>,
}

#[derive(Deserialize)]
struct CocoImage {
    id: u64,
    file_name: String,
    width: Option<u32>,
    height: Option<u32>,
}

#[derive(Deserialize)]
struct CocoAnnotation {
    id: Option<u64>,
    image_id: u64,
    category_id: u64,
    bbox: [f64; 4],
    #[serde(default)]
    iscrowd: Flag,
}

#[derive(Deserialize)]
struct CocoCategory {
    id: u64,
    name: String,
}

/// `iscrowd` as written in the wild: 0/1 or false/true.
#[derive(Deserialize, Default)]
#[serde(untagged)]
enum Flag {
    #[default]
    Absent,
    Int(u64),
    Bool(bool),
}

impl Flag {
    fn is_set(&self) -> bool {
        matches!(self, Flag::Int(n) if *n != 0) || matches!(self, Flag::Bool(true))
    }
}

pub(crate) fn read(file: &Path, root: &Path, checker: &mut BoxChecker) -> Result<Parts> {
    let coco: CocoFile = read_json(file)?;

    let mut cat_index = HashMap::new();
    for (i, c) in coco.categories.iter().enumerate() {
        if let Some(j) = cat_index.insert(c.id, i) {
            return Err(DataError::at(
                file,
                format!("categories[{i}]"),
                format!("duplicate category id {} (also categories[{j}])", c.id),
            ));
        }
    }

    let mut image_index = HashMap::new();
    let mut images = Vec::with_capacity(coco.images.len());
    let mut declared = Vec::with_capacity(coco.images.len());
    for (i, im) in coco.images.iter().enumerate() {
        let entry = format!("images[{i}] (id {})", im.id);
        if let Some(j) = image_index.insert(im.id, i) {
            return Err(DataError::at(file, entry, format!("duplicate image id {} (also images[{j}])", im.id)));
        }
        resolve_under(root, &im.file_name, file, &entry)?;
        declared.push(im.width.zip(im.height));
        images.push(ImageEntry {
            id: im.id,
            file_name: im.file_name.clone(),
            width: 0,
            height: 0,
            objects: Vec::new(),
        });
    }
    check_images(&mut images, root, &declared, |i| {
        (file.to_path_buf(), format!("images[{i}] (id {}, {})", coco.images[i].id, coco.images[i].file_name))
    })?;

    for (a, ann) in coco.annotations.iter().enumerate() {
        let entry = match ann.id {
            Some(id) => format!("annotations[{a}] (id {id})"),
            None => format!("annotations[{a}]"),
        };
        let Some(&ii) = image_index.get(&ann.image_id) else {
            return Err(DataError::at(file, entry, format!("unknown image id {}", ann.image_id)));
        };
        let Some(&ci) = cat_index.get(&ann.category_id) else {
            return Err(DataError::at(file, entry, format!("unknown category id {}", ann.category_id)));
        };
        let im = &mut images[ii];
        if let Some(bbox) = checker.check(BBox::from(ann.bbox), im.width, im.height, file, &entry)? {
            im.objects.push(Object { category: ci, bbox, iscrowd: ann.iscrowd.is_set() });
        }
    }

    let names = coco.categories.iter().map(|c| c.name.clone()).collect();
    let ids = coco.categories.iter().map(|c| c.id).collect();
    Ok((names, ids, images))
}
