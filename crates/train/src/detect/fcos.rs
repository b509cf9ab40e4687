//! FCOS on an FPN over a ResNet (torchvision's `fcos_resnet50_fpn` layout): P3-P5 from the
//! backbone's C3-C5 through 1x1 lateral and 3x3 output convs with top-down nearest upsampling,
//! P6/P7 by stride-2 convs from P5; shared heads with a classification tower (cls logits) and a
//! regression tower (box distances, ReLU, and centre-ness). The backbone's BN is frozen
//! (inference mode), as in the paper's fine-tuning.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{GroupNorm, GroupNormConfig, Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};

use crate::norm::BnMode;
use crate::resnet::{Arch, ResNet};

fn conv(cin: usize, cout: usize, k: usize, stride: usize, init: Initializer, device: &Device) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_initializer(init)
        .init(device)
}

fn kaiming_uniform_a1() -> Initializer {
    // torchvision's FPN init: kaiming_uniform_(a=1), bias 0.
    Initializer::KaimingUniform { gain: 1.0, fan_out_only: false }
}

#[derive(Module, Debug)]
pub struct Fpn {
    pub lateral: Vec<Conv2d>,
    pub output: Vec<Conv2d>,
    pub p6: Conv2d,
    pub p7: Conv2d,
}

impl Fpn {
    pub fn new(in_channels: [usize; 3], d: usize, device: &Device) -> Fpn {
        Fpn {
            lateral: in_channels.iter().map(|&c| conv(c, d, 1, 1, kaiming_uniform_a1(), device)).collect(),
            output: (0..3).map(|_| conv(d, d, 3, 1, kaiming_uniform_a1(), device)).collect(),
            p6: conv(d, d, 3, 2, kaiming_uniform_a1(), device),
            p7: conv(d, d, 3, 2, kaiming_uniform_a1(), device),
        }
    }

    pub fn forward(&self, c: [Tensor<4>; 3]) -> Vec<Tensor<4>> {
        let [c3, c4, c5] = c;
        let up = |x: Tensor<4>, like: &Tensor<4>| {
            let [_, _, h, w] = like.dims();
            interpolate(x, InterpolateOptions::new(InterpolateMode::Nearest).with_output_size([h, w]))
        };
        let l5 = self.lateral[2].forward(c5);
        let l4 = self.lateral[1].forward(c4);
        let l4 = l4.clone() + up(l5.clone(), &l4);
        let l3 = self.lateral[0].forward(c3);
        let l3 = l3.clone() + up(l4.clone(), &l3);
        let p5 = self.output[2].forward(l5);
        let p6 = self.p6.forward(p5.clone());
        let p7 = self.p7.forward(relu(p6.clone()));
        vec![self.output[0].forward(l3), self.output[1].forward(l4), p5, p6, p7]
    }
}

/// A tower of `n` 3x3 conv + GroupNorm(32) + ReLU.
#[derive(Module, Debug)]
pub struct Tower {
    pub convs: Vec<Conv2d>,
    pub norms: Vec<GroupNorm>,
}

impl Tower {
    fn new(d: usize, n: usize, device: &Device) -> Tower {
        Tower {
            convs: (0..n).map(|_| conv(d, d, 3, 1, Initializer::Normal { mean: 0.0, std: 0.01 }, device)).collect(),
            norms: (0..n).map(|_| GroupNormConfig::new(32.min(d), d).init(device)).collect(),
        }
    }

    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.convs.iter().zip(&self.norms).fold(x, |x, (c, n)| relu(n.forward(c.forward(x))))
    }
}

#[derive(Module, Debug)]
pub struct Head {
    pub cls_tower: Tower,
    pub cls_logits: Conv2d,
    pub reg_tower: Tower,
    pub bbox_reg: Conv2d,
    pub ctrness: Conv2d,
}

/// Head outputs over all points, level-major: `N x P x C`, `N x P x 4`, `N x P`.
pub struct HeadOutput {
    pub cls: Tensor<3>,
    pub reg: Tensor<3>,
    pub ctr: Tensor<2>,
}

impl Head {
    fn new(d: usize, classes: usize, convs: usize, device: &Device) -> Head {
        let mut cls_logits = conv(d, classes, 3, 1, Initializer::Normal { mean: 0.0, std: 0.01 }, device);
        // Prior probability 0.01 for every class at start.
        let prior = -((1.0f32 - 0.01) / 0.01).ln();
        cls_logits.bias = Some(Param::from_tensor(Tensor::full([classes], prior, device)));
        let zero_bias = |mut c: Conv2d| {
            let n = c.weight.dims()[0];
            c.bias = Some(Param::from_tensor(Tensor::zeros([n], device)));
            c
        };
        Head {
            cls_tower: Tower::new(d, convs, device),
            cls_logits,
            reg_tower: Tower::new(d, convs, device),
            bbox_reg: zero_bias(conv(d, 4, 3, 1, Initializer::Normal { mean: 0.0, std: 0.01 }, device)),
            ctrness: zero_bias(conv(d, 1, 3, 1, Initializer::Normal { mean: 0.0, std: 0.01 }, device)),
        }
    }

    fn forward(&self, levels: Vec<Tensor<4>>) -> HeadOutput {
        let flat = |x: Tensor<4>| {
            let [n, c, h, w] = x.dims();
            x.reshape([n, c, h * w]).swap_dims(1, 2)
        };
        let (mut cls, mut reg, mut ctr) = (Vec::new(), Vec::new(), Vec::new());
        for x in levels {
            cls.push(flat(self.cls_logits.forward(self.cls_tower.forward(x.clone()))));
            let r = self.reg_tower.forward(x);
            reg.push(flat(relu(self.bbox_reg.forward(r.clone()))));
            let c = flat(self.ctrness.forward(r));
            let [n, p, _] = c.dims();
            ctr.push(c.reshape([n, p]));
        }
        HeadOutput { cls: Tensor::cat(cls, 1), reg: Tensor::cat(reg, 1), ctr: Tensor::cat(ctr, 1) }
    }
}

/// The detector: backbone (frozen BN), FPN and FCOS heads.
#[derive(Module, Debug)]
pub struct Fcos {
    pub backbone: ResNet,
    pub fpn: Fpn,
    pub head: Head,
}

/// Sizes of the FPN and heads (torchvision: 256 channels, 4 tower convs).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FcosSize {
    pub channels: usize,
    pub tower: usize,
}

impl Default for FcosSize {
    fn default() -> Self {
        FcosSize { channels: 256, tower: 4 }
    }
}

impl Fcos {
    /// A detector with a fresh backbone (`ResNet::init(seed)`); replace `backbone` to start
    /// from pre-trained weights, then call [`Fcos::freeze_backbone_bn`].
    pub fn new(arch: Arch, classes: usize, size: FcosSize, seed: u64, device: &Device) -> Fcos {
        device.seed(seed);
        Fcos {
            backbone: ResNet::init(arch, seed, device).freeze_bn(),
            fpn: Fpn::new(arch.out_channels(), size.channels, device),
            head: Head::new(size.channels, classes, size.tower, device),
        }
    }

    pub fn freeze_backbone_bn(mut self) -> Self {
        self.backbone = self.backbone.freeze_bn();
        self
    }

    /// `x`: `N x 3 x H x W` normalised images (H, W multiples of 32 preferred).
    pub fn forward(&self, x: Tensor<4>) -> HeadOutput {
        let f = self.backbone.forward(x, BnMode::Eval);
        self.head.forward(self.fpn.forward([f.c3, f.c4, f.c5]))
    }
}
