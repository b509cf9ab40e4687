//! ResNet-18/34/50 with torchvision's structure, initialisation and parameter names
//! (`conv1`, `bn1`, `layer1.0.conv1`, `layer2.0.downsample.0`, ...: the downsample branch is
//! stored as `downsample.conv` / `downsample.bn` and renamed on export and import).
//! `forward` returns the stride-8, 16 and 32 feature maps (C3, C4, C5) for an FPN.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::prelude::*;
use burn::tensor::activation::relu;

use crate::norm::{BatchNorm2d, BnMode};

/// The backbones montage trains.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Resnet18,
    Resnet34,
    Resnet50,
}

impl std::str::FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().replace(['-', '_'], "").as_str() {
            "resnet18" => Ok(Arch::Resnet18),
            "resnet34" => Ok(Arch::Resnet34),
            "resnet50" => Ok(Arch::Resnet50),
            _ => Err(format!("unknown backbone '{s}' (expected resnet18, resnet34 or resnet50)")),
        }
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Arch::Resnet18 => "resnet18",
            Arch::Resnet34 => "resnet34",
            Arch::Resnet50 => "resnet50",
        })
    }
}

impl Arch {
    /// Blocks per stage.
    pub fn layers(self) -> [usize; 4] {
        match self {
            Arch::Resnet18 => [2, 2, 2, 2],
            Arch::Resnet34 | Arch::Resnet50 => [3, 4, 6, 3],
        }
    }

    pub fn bottleneck(self) -> bool {
        self == Arch::Resnet50
    }

    /// Channels of the stride-8, 16 and 32 maps.
    pub fn out_channels(self) -> [usize; 3] {
        let e = if self.bottleneck() { 4 } else { 1 };
        [128 * e, 256 * e, 512 * e]
    }
}

/// A bias-free conv; its weights are set by [`ResNet::init`].
fn conv(cin: usize, cout: usize, k: usize, stride: usize, device: &Device) -> Conv2d {
    let p = k / 2;
    Conv2dConfig::new([cin, cout], [k, k])
        .with_stride([stride, stride])
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_bias(false)
        .with_initializer(Initializer::Zeros)
        .init(device)
}

/// torchvision's conv init, from our own seeded stream `(seed, Init, index)`: Kaiming normal,
/// fan-out, ReLU gain (std = sqrt(2 / (out x k x k))).
fn kaiming_fan_out(c: &mut Conv2d, seed: u64, index: u64) {
    let [o, i, kh, kw] = c.weight.dims();
    let mut rng = montage_data::rng::stream(seed, montage_data::rng::Purpose::Init, index);
    let w = montage_data::rng::normal(&mut rng, o * i * kh * kw, (2.0 / (o * kh * kw) as f64).sqrt());
    let device = c.weight.device();
    c.weight = burn::module::Param::from_tensor(Tensor::<4>::from_data(
        burn::tensor::TensorData::new(w, [o, i, kh, kw]),
        &device,
    ));
}

/// The 1x1 conv + BN that matches the shortcut to a block's output.
#[derive(Module, Debug)]
pub struct Downsample {
    pub conv: Conv2d,
    pub bn: BatchNorm2d,
}

/// A residual block: basic (two 3x3) or bottleneck (1x1, 3x3, 1x1).
#[derive(Module, Debug)]
pub struct Block {
    pub conv1: Conv2d,
    pub bn1: BatchNorm2d,
    pub conv2: Conv2d,
    pub bn2: BatchNorm2d,
    pub conv3: Option<Conv2d>,
    pub bn3: Option<BatchNorm2d>,
    pub downsample: Option<Downsample>,
}

impl Block {
    fn new(cin: usize, width: usize, stride: usize, bottleneck: bool, device: &Device) -> Block {
        let (cout, block) = if bottleneck {
            // torchvision's Bottleneck (v1.5): the stride sits on the 3x3 conv.
            let cout = width * 4;
            (
                cout,
                Block {
                    conv1: conv(cin, width, 1, 1, device),
                    bn1: BatchNorm2d::new(width, device),
                    conv2: conv(width, width, 3, stride, device),
                    bn2: BatchNorm2d::new(width, device),
                    conv3: Some(conv(width, cout, 1, 1, device)),
                    bn3: Some(BatchNorm2d::new(cout, device)),
                    downsample: None,
                },
            )
        } else {
            (
                width,
                Block {
                    conv1: conv(cin, width, 3, stride, device),
                    bn1: BatchNorm2d::new(width, device),
                    conv2: conv(width, width, 3, 1, device),
                    bn2: BatchNorm2d::new(width, device),
                    conv3: None,
                    bn3: None,
                    downsample: None,
                },
            )
        };
        let downsample = (stride != 1 || cin != cout)
            .then(|| Downsample { conv: conv(cin, cout, 1, stride, device), bn: BatchNorm2d::new(cout, device) });
        Block { downsample, ..block }
    }

    fn forward(&self, x: Tensor<4>, mode: BnMode) -> Tensor<4> {
        let identity = match &self.downsample {
            Some(d) => d.bn.forward(d.conv.forward(x.clone()), mode),
            None => x.clone(),
        };
        let mut out = relu(self.bn1.forward(self.conv1.forward(x), mode));
        out = self.bn2.forward(self.conv2.forward(out), mode);
        if let (Some(c3), Some(b3)) = (&self.conv3, &self.bn3) {
            out = b3.forward(c3.forward(relu(out)), mode);
        }
        relu(out + identity)
    }
}

/// The feature maps a backbone returns.
pub struct Features {
    /// Stride 8.
    pub c3: Tensor<4>,
    /// Stride 16.
    pub c4: Tensor<4>,
    /// Stride 32: the map X of the method.
    pub c5: Tensor<4>,
}

#[derive(Module, Debug)]
pub struct ResNet {
    pub conv1: Conv2d,
    pub bn1: BatchNorm2d,
    pub maxpool: MaxPool2d,
    pub layer1: Vec<Block>,
    pub layer2: Vec<Block>,
    pub layer3: Vec<Block>,
    pub layer4: Vec<Block>,
}

impl ResNet {
    /// A ResNet with torchvision's initialisation drawn from `seed` (independent of any global
    /// RNG, so the same seed gives the same network on any thread and backend).
    pub fn init(arch: Arch, seed: u64, device: &Device) -> ResNet {
        let mut net = ResNet::new(arch, device);
        let mut k = 0u64;
        let mut next = |c: &mut Conv2d| {
            kaiming_fan_out(c, seed, k);
            k += 1;
        };
        next(&mut net.conv1);
        for b in [&mut net.layer1, &mut net.layer2, &mut net.layer3, &mut net.layer4].into_iter().flatten() {
            next(&mut b.conv1);
            next(&mut b.conv2);
            if let Some(c) = b.conv3.as_mut() {
                next(c);
            }
            if let Some(d) = b.downsample.as_mut() {
                next(&mut d.conv);
            }
        }
        net
    }

    /// The structure with zero conv weights (to be loaded or initialised).
    pub fn new(arch: Arch, device: &Device) -> ResNet {
        let bottleneck = arch.bottleneck();
        let expansion = if bottleneck { 4 } else { 1 };
        let mut cin = 64;
        let mut stage = |n: usize, width: usize, stride: usize| -> Vec<Block> {
            (0..n)
                .map(|i| {
                    let b = Block::new(cin, width, if i == 0 { stride } else { 1 }, bottleneck, device);
                    cin = width * expansion;
                    b
                })
                .collect()
        };
        let [l1, l2, l3, l4] = arch.layers();
        let (layer1, layer2, layer3, layer4) =
            (stage(l1, 64, 1), stage(l2, 128, 2), stage(l3, 256, 2), stage(l4, 512, 2));
        ResNet {
            conv1: conv(3, 64, 7, 2, device),
            bn1: BatchNorm2d::new(64, device),
            maxpool: MaxPool2dConfig::new([3, 3])
                .with_strides([2, 2])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(),
            layer1,
            layer2,
            layer3,
            layer4,
        }
    }

    pub fn forward(&self, x: Tensor<4>, mode: BnMode) -> Features {
        let x = self.maxpool.forward(relu(self.bn1.forward(self.conv1.forward(x), mode)));
        let run = |blocks: &[Block], x: Tensor<4>| blocks.iter().fold(x, |x, b| b.forward(x, mode));
        let x = run(&self.layer1, x);
        let c3 = run(&self.layer2, x);
        let c4 = run(&self.layer3, c3.clone());
        let c5 = run(&self.layer4, c4.clone());
        Features { c3, c4, c5 }
    }

    /// Every batch norm of the network.
    pub fn batch_norms(&self) -> Vec<&BatchNorm2d> {
        let mut v = vec![&self.bn1];
        for b in [&self.layer1, &self.layer2, &self.layer3, &self.layer4].into_iter().flatten() {
            v.extend([&b.bn1, &b.bn2]);
            v.extend(b.bn3.as_ref());
            v.extend(b.downsample.as_ref().map(|d| &d.bn));
        }
        v
    }

    /// Freezes every BN's affine parameters (they get no gradient), as torchvision's
    /// FrozenBatchNorm2d and the paper's fine-tuning do; use with [`BnMode::Eval`].
    pub fn freeze_bn(mut self) -> Self {
        fn f(bn: &mut BatchNorm2d) {
            bn.weight = bn.weight.clone().set_require_grad(false);
            bn.bias = bn.bias.clone().set_require_grad(false);
        }
        f(&mut self.bn1);
        for b in [&mut self.layer1, &mut self.layer2, &mut self.layer3, &mut self.layer4].into_iter().flatten() {
            f(&mut b.bn1);
            f(&mut b.bn2);
            if let Some(bn) = b.bn3.as_mut() {
                f(bn);
            }
            if let Some(d) = b.downsample.as_mut() {
                f(&mut d.bn);
            }
        }
        self
    }

    /// Makes every BN's running statistics current (before saving or exporting).
    pub fn sync_running_stats(&self) {
        self.batch_norms().into_iter().for_each(BatchNorm2d::sync);
    }

    /// Only the stride-32 map (cheaper: no clones kept for an FPN).
    pub fn forward_c5(&self, x: Tensor<4>, mode: BnMode) -> Tensor<4> {
        let x = self.maxpool.forward(relu(self.bn1.forward(self.conv1.forward(x), mode)));
        [&self.layer1, &self.layer2, &self.layer3, &self.layer4]
            .into_iter()
            .flatten()
            .fold(x, |x, b| b.forward(x, mode))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv1(n: &ResNet) -> Vec<f32> {
        n.conv1.weight.val().into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn init_is_seeded_and_has_torchvision_scale() {
        let d = Device::flex();
        let (a, b, c) = (
            ResNet::init(Arch::Resnet18, 1, &d),
            ResNet::init(Arch::Resnet18, 1, &d),
            ResNet::init(Arch::Resnet18, 2, &d),
        );
        assert_eq!(conv1(&a), conv1(&b));
        assert_ne!(conv1(&a), conv1(&c));
        let w = conv1(&a);
        let var = w.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / w.len() as f64;
        let want = 2.0 / (64.0 * 49.0);
        assert!((var / want - 1.0).abs() < 0.05, "variance {var} vs {want}");
        // Structure: every stage's first block of ResNet-50 has a downsample, ResNet-18 from stage 2.
        let r50 = ResNet::new(Arch::Resnet50, &d);
        assert!(r50.layer1[0].downsample.is_some() && r50.layer1[1].downsample.is_none());
        assert!(a.layer1[0].downsample.is_none() && a.layer2[0].downsample.is_some());
    }
}
