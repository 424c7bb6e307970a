//! The inference side of a small multilayer perceptron in plain Rust: at
//! this size (tens of thousands of weights) a tight loop beats a
//! framework's per-call overhead, and inference needs no framework at all.
//! Training (in [`crate::train`]) uses candle over the same weights; a test
//! checks that both give the same outputs.

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};

use crate::ModelError;

/// One dense layer: `y = x · W + b`, `W` stored input-major (`[inputs, outputs]`).
#[derive(Debug, Clone, PartialEq)]
pub struct Dense {
    pub inputs: usize,
    pub outputs: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

/// Dense layers with ReLU between them; the last layer is linear, and so is
/// any layer listed in `linear` (an autoencoder's bottleneck).
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    pub layers: Vec<Dense>,
    pub linear: Vec<usize>,
}

impl Mlp {
    pub fn inputs(&self) -> usize {
        self.layers[0].inputs
    }

    pub fn outputs(&self) -> usize {
        self.layers[self.layers.len() - 1].outputs
    }

    /// Layer sizes from input to output.
    pub fn sizes(&self) -> Vec<usize> {
        std::iter::once(self.inputs())
            .chain(self.layers.iter().map(|l| l.outputs))
            .collect()
    }

    fn relu_after(&self, layer: usize) -> bool {
        layer + 1 < self.layers.len() && !self.linear.contains(&layer)
    }

    /// Forward pass over `n` rows of `inputs()` values each; returns `n`
    /// rows of `outputs()` values.
    pub fn forward_batch(&self, x: &[f32], n: usize) -> Vec<f32> {
        let widest = self.layers.iter().map(|l| l.outputs).max().unwrap_or(0);
        let mut a = vec![0f32; widest];
        let mut b = vec![0f32; widest];
        let mut out = vec![0f32; n * self.outputs()];
        for (row, y) in x
            .chunks_exact(self.inputs())
            .zip(out.chunks_exact_mut(self.outputs()))
        {
            let mut input: &[f32] = row;
            for (i, layer) in self.layers.iter().enumerate() {
                let target = &mut a[..layer.outputs];
                layer.apply(input, target);
                if self.relu_after(i) {
                    for v in target.iter_mut() {
                        *v = v.max(0.0);
                    }
                }
                std::mem::swap(&mut a, &mut b);
                input = &b[..layer.outputs];
            }
            y.copy_from_slice(input);
        }
        out
    }

    /// Serialises the weights as safetensors (`l{i}.weight`, `l{i}.bias`).
    pub fn to_safetensors(&self) -> Result<Vec<u8>, ModelError> {
        let bytes: Vec<(String, Vec<u8>, Vec<usize>)> = self
            .layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                [
                    (
                        format!("l{i}.weight"),
                        le_bytes(&l.weight),
                        vec![l.inputs, l.outputs],
                    ),
                    (format!("l{i}.bias"), le_bytes(&l.bias), vec![l.outputs]),
                ]
            })
            .collect();
        let views = bytes
            .iter()
            .map(|(name, data, shape)| {
                TensorView::new(Dtype::F32, shape.clone(), data)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| ModelError::Format(e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        safetensors::tensor::serialize(views, None).map_err(|e| ModelError::Format(e.to_string()))
    }

    /// Reads `layers` dense layers back from safetensors bytes.
    pub fn from_safetensors(bytes: &[u8], layers: usize, linear: Vec<usize>) -> Result<Mlp, ModelError> {
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| ModelError::Format(e.to_string()))?;
        let read = |name: &str| -> Result<(Vec<f32>, Vec<usize>), ModelError> {
            let t = tensors
                .tensor(name)
                .map_err(|e| ModelError::Format(format!("{name}: {e}")))?;
            if t.dtype() != Dtype::F32 {
                return Err(ModelError::Format(format!("{name} is not f32")));
            }
            let values = t
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Ok((values, t.shape().to_vec()))
        };
        let mut out = Vec::with_capacity(layers);
        for i in 0..layers {
            let (weight, shape) = read(&format!("l{i}.weight"))?;
            let (bias, bias_shape) = read(&format!("l{i}.bias"))?;
            if shape.len() != 2 || bias_shape != [shape[1]] {
                return Err(ModelError::Format(format!(
                    "layer {i} has shape {shape:?} / {bias_shape:?}"
                )));
            }
            out.push(Dense {
                inputs: shape[0],
                outputs: shape[1],
                weight,
                bias,
            });
        }
        if out.windows(2).any(|w| w[0].outputs != w[1].inputs) {
            return Err(ModelError::Format("layer sizes do not chain".into()));
        }
        Ok(Mlp { layers: out, linear })
    }
}

impl Dense {
    /// `out = x · W + b`; zero inputs (unknown and padded buckets) are skipped.
    fn apply(&self, x: &[f32], out: &mut [f32]) {
        out.copy_from_slice(&self.bias);
        for (xi, w) in x.iter().zip(self.weight.chunks_exact(self.outputs)) {
            if *xi == 0.0 {
                continue;
            }
            for (o, wi) in out.iter_mut().zip(w) {
                *o += xi * wi;
            }
        }
    }
}

fn le_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
