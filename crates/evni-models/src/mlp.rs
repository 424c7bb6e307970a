//! The inference side of a small multilayer perceptron in plain Rust: at
//! this size (tens of thousands of weights) a tight loop beats a
//! framework's per-call overhead, and inference needs no framework at all.
//! Training (in [`crate::train`]) uses candle over the same weights; a test
//! checks that both give the same outputs.

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use sha2::{Digest, Sha256};

use crate::ModelError;

/// Rows a forward pass carries through a layer together.
const BLOCK: usize = 8;

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
    /// rows of `outputs()` values. Rows go through each layer in blocks of
    /// [`BLOCK`], so a weight row read from memory serves the whole block:
    /// a single row is bound by reading the weights, a batch is not. Each
    /// row's sums run in the same order either way, so the outputs do not
    /// depend on the batch.
    pub fn forward_batch(&self, x: &[f32], n: usize) -> Vec<f32> {
        let widest = self.layers.iter().map(|l| l.outputs).max().unwrap_or(0);
        let mut a = vec![0f32; BLOCK * widest];
        let mut b = vec![0f32; BLOCK * widest];
        let mut out = vec![0f32; n * self.outputs()];
        let block_inputs = BLOCK * self.inputs();
        for (rows, y) in x[..n * self.inputs()]
            .chunks(block_inputs)
            .zip(out.chunks_mut(BLOCK * self.outputs()))
        {
            let count = rows.len() / self.inputs();
            let mut input: &[f32] = rows;
            for (i, layer) in self.layers.iter().enumerate() {
                let target = &mut a[..count * layer.outputs];
                layer.apply_block(input, count, target);
                if self.relu_after(i) {
                    for v in target.iter_mut() {
                        *v = v.max(0.0);
                    }
                }
                std::mem::swap(&mut a, &mut b);
                input = &b[..count * layer.outputs];
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
    /// `count` rows of `x` (row-major) through the layer into `out`.
    ///
    /// Compiled for the widest vector instructions the CPU has (AVX2 on
    /// most x86 servers), chosen at run time. Each output's sum still runs
    /// over the inputs in order, as a plain multiply and add (never fused),
    /// so the results are bit for bit the same on every CPU.
    fn apply_block(&self, x: &[f32], count: usize, out: &mut [f32]) {
        pulp::Arch::new().dispatch(
            #[inline(always)]
            || self.apply_block_portable(x, count, out),
        );
    }

    #[inline(always)]
    fn apply_block_portable(&self, x: &[f32], count: usize, out: &mut [f32]) {
        for row in out.chunks_exact_mut(self.outputs) {
            row.copy_from_slice(&self.bias);
        }
        for (i, w) in self.weight.chunks_exact(self.outputs).enumerate() {
            for r in 0..count {
                let xi = x[r * self.inputs + i];
                if xi == 0.0 {
                    continue;
                }
                for (o, wi) in out[r * self.outputs..(r + 1) * self.outputs].iter_mut().zip(w) {
                    *o += xi * wi;
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn layer(inputs: usize, outputs: usize, seed: u32) -> Dense {
        // Deterministic, varied values without a random number generator.
        let value = |k: usize| ((k as u32).wrapping_mul(2_654_435_761) ^ seed) % 2001;
        let value = |k: usize| value(k) as f32 / 1000.0 - 1.0;
        Dense {
            inputs,
            outputs,
            weight: (0..inputs * outputs).map(value).collect(),
            bias: (0..outputs).map(|k| value(k + 7)).collect(),
        }
    }

    #[test]
    fn a_row_gives_the_same_outputs_alone_and_in_any_batch() {
        let net = Mlp {
            layers: vec![layer(13, 9, 1), layer(9, 4, 2), layer(4, 13, 3)],
            linear: vec![1],
        };
        let rows = 19; // two full blocks and a partial one
        let x: Vec<f32> = (0..rows * 13)
            .map(|k| {
                if k % 5 == 0 {
                    0.0
                } else {
                    (k % 17) as f32 / 8.0 - 1.0
                }
            })
            .collect();
        let batched = net.forward_batch(&x, rows);
        for r in 0..rows {
            let alone = net.forward_batch(&x[r * 13..(r + 1) * 13], 1);
            assert_eq!(alone, batched[r * 13..(r + 1) * 13], "row {r}");
        }
    }

    /// The vector build must not change a bit (no fused multiply-add, no
    /// reordered sums): verdicts may not depend on the CPU.
    #[test]
    fn the_vector_build_computes_what_plain_arithmetic_does() {
        let dense = layer(37, 29, 4);
        let count = 3;
        let x: Vec<f32> = (0..count * 37).map(|k| (k % 11) as f32 / 3.0 - 1.5).collect();
        let mut vector = vec![0f32; count * 29];
        dense.apply_block(&x, count, &mut vector);
        let mut plain = vec![0f32; count * 29];
        for r in 0..count {
            for o in 0..29 {
                let mut sum = dense.bias[o];
                for i in 0..37 {
                    let xi = x[r * 37 + i];
                    if xi != 0.0 {
                        sum += xi * dense.weight[i * 29 + o];
                    }
                }
                plain[r * 29 + o] = sum;
            }
        }
        let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&vector), bits(&plain));
    }
}
