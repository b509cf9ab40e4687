//! Batch normalisation with PyTorch's semantics and torchvision's parameter names
//! (`weight`, `bias`, `running_mean`, `running_var`).
//!
//! Differences from `burn::nn::BatchNorm`, on purpose:
//! - the running variance is updated with the *unbiased* batch variance, as PyTorch does
//!   (burn uses the biased one);
//! - the mode is chosen by the caller ([`BnMode`]), not by the device, so that ERFs can be
//!   estimated with inference-mode BN on an autodiff device, and a detector can freeze BN;
//! - running statistics are always read with `value_sync()` (`value()` can lag one update).

use burn::module::{Module, Param, RunningState};
use burn::nn::Initializer;
use burn::prelude::*;

/// How batch normalisation behaves in one forward pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BnMode {
    /// Normalise with the batch's statistics and update the running ones.
    Train,
    /// Normalise with the running statistics (inference; also frozen BN).
    Eval,
}

#[derive(Module, Debug)]
pub struct BatchNorm2d {
    pub weight: Param<Tensor<1>>,
    pub bias: Param<Tensor<1>>,
    pub running_mean: RunningState<Tensor<1>>,
    pub running_var: RunningState<Tensor<1>>,
    pub momentum: f64,
    pub epsilon: f64,
}

impl BatchNorm2d {
    pub fn new(channels: usize, device: &Device) -> Self {
        BatchNorm2d {
            weight: Initializer::Ones.init([channels], device),
            bias: Initializer::Zeros.init([channels], device),
            running_mean: RunningState::new(Tensor::zeros([channels], device)),
            running_var: RunningState::new(Tensor::ones([channels], device)),
            momentum: 0.1,
            epsilon: 1e-5,
        }
    }

    /// Folds a pending running-statistics update into the stored value, so that what is
    /// saved or exported is current (a `RunningState` can lag one update otherwise).
    pub fn sync(&self) {
        let _ = self.running_mean.value_sync();
        let _ = self.running_var.value_sync();
    }

    pub fn forward(&self, x: Tensor<4>, mode: BnMode) -> Tensor<4> {
        let device = x.device();
        match mode {
            BnMode::Eval => burn::tensor::module::batch_norm(
                x,
                self.weight.val(),
                self.bias.val(),
                self.running_mean.value_sync().to_device(&device),
                self.running_var.value_sync().to_device(&device),
                self.epsilon,
            ),
            BnMode::Train => {
                let [n, _, h, w] = x.dims();
                let count = (n * h * w) as f64;
                let r = burn::tensor::module::batch_norm_train(x, self.weight.val(), self.bias.val(), self.epsilon);
                let unbiased = if count > 1.0 { count / (count - 1.0) } else { 1.0 };
                let m = self.momentum;
                let mean = self
                    .running_mean
                    .value_sync()
                    .to_device(&device)
                    .mul_scalar(1.0 - m)
                    .add(r.mean.detach().mul_scalar(m));
                let var = self
                    .running_var
                    .value_sync()
                    .to_device(&device)
                    .mul_scalar(1.0 - m)
                    .add(r.variance.detach().mul_scalar(m * unbiased));
                self.running_mean.update(mean.detach());
                self.running_var.update(var.detach());
                r.output
            }
        }
    }
}
