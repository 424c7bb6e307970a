//! The training side of the perceptron: candle variables initialised from
//! a ChaCha stream (so a seed fixes the weights), AdamW, and conversion to
//! the plain-Rust [`Mlp`] used for inference.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::{seq::SliceRandom, Rng};
use rand_chacha::ChaCha8Rng;

use crate::mlp::{Dense, Mlp};
use crate::ModelError;

pub(crate) fn err(e: candle_core::Error) -> ModelError {
    ModelError::Training(e.to_string())
}

pub(crate) struct Net {
    layers: Vec<(Var, Var)>,
    linear: Vec<usize>,
}

impl Net {
    /// Glorot-uniform weights, zero biases.
    pub fn init(sizes: &[usize], linear: Vec<usize>, rng: &mut ChaCha8Rng) -> Result<Net, ModelError> {
        let mut layers = Vec::with_capacity(sizes.len() - 1);
        for pair in sizes.windows(2) {
            let (i, o) = (pair[0], pair[1]);
            let bound = (6.0 / (i + o) as f64).sqrt() as f32;
            let w: Vec<f32> = (0..i * o).map(|_| rng.random_range(-bound..bound)).collect();
            let w =
                Var::from_tensor(&Tensor::from_vec(w, (i, o), &Device::Cpu).map_err(err)?).map_err(err)?;
            let b = Var::zeros(o, DType::F32, &Device::Cpu).map_err(err)?;
            layers.push((w, b));
        }
        Ok(Net { layers, linear })
    }

    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        let last = self.layers.len() - 1;
        for (i, (w, b)) in self.layers.iter().enumerate() {
            h = h.matmul(w.as_tensor())?.broadcast_add(b.as_tensor())?;
            if i < last && !self.linear.contains(&i) {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    pub fn optimizer(&self, learning_rate: f64) -> Result<AdamW, ModelError> {
        let vars = self
            .layers
            .iter()
            .flat_map(|(w, b)| [w.clone(), b.clone()])
            .collect();
        AdamW::new(
            vars,
            ParamsAdamW {
                lr: learning_rate,
                weight_decay: 1e-5,
                ..ParamsAdamW::default()
            },
        )
        .map_err(err)
    }

    pub fn to_mlp(&self) -> Result<Mlp, ModelError> {
        let layers = self
            .layers
            .iter()
            .map(|(w, b)| {
                let (inputs, outputs) = w.dims2().map_err(err)?;
                Ok(Dense {
                    inputs,
                    outputs,
                    weight: w.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(err)?,
                    bias: b.to_vec1::<f32>().map_err(err)?,
                })
            })
            .collect::<Result<Vec<_>, ModelError>>()?;
        Ok(Mlp {
            layers,
            linear: self.linear.clone(),
        })
    }
}

/// Mini-batch training: each epoch visits the rows in a fresh ChaCha
/// order; `loss` turns (outputs, batch rows) into the scalar to minimise.
pub(crate) fn fit(
    net: &Net,
    x: &[f32],
    inputs: usize,
    config: &super::TrainConfig,
    rng: &mut ChaCha8Rng,
    loss: impl Fn(&Tensor, &Tensor, &[usize]) -> candle_core::Result<Tensor>,
) -> Result<f32, ModelError> {
    let n = x.len() / inputs;
    let mut opt = net.optimizer(config.learning_rate)?;
    let mut order: Vec<usize> = (0..n).collect();
    let mut last = f32::NAN;
    for _ in 0..config.epochs {
        order.shuffle(rng);
        let mut total = 0.0;
        let mut batches = 0;
        for rows in order.chunks(config.batch.max(1)) {
            let mut xb = Vec::with_capacity(rows.len() * inputs);
            for &r in rows {
                xb.extend_from_slice(&x[r * inputs..(r + 1) * inputs]);
            }
            let xb = Tensor::from_vec(xb, (rows.len(), inputs), &Device::Cpu).map_err(err)?;
            let out = net.forward(&xb).map_err(err)?;
            let l = loss(&out, &xb, rows).map_err(err)?;
            opt.backward_step(&l).map_err(err)?;
            total += l.to_scalar::<f32>().map_err(err)?;
            batches += 1;
        }
        last = total / batches.max(1) as f32;
    }
    Ok(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn candle_and_plain_rust_give_the_same_outputs() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let sizes = [40, 24, 6, 24, 40];
        let net = Net::init(&sizes, vec![1], &mut rng).unwrap();
        // Non-zero biases too.
        for (_, b) in &net.layers {
            let values: Vec<f32> = (0..b.dims1().unwrap())
                .map(|_| rng.random_range(-0.5..0.5))
                .collect();
            b.set(&Tensor::from_vec(values, b.dims1().unwrap(), &Device::Cpu).unwrap())
                .unwrap();
        }
        let n = 33;
        let x: Vec<f32> = (0..n * 40)
            .map(|i| {
                if i % 7 == 0 {
                    0.0
                } else {
                    rng.random_range(-2.0..2.0)
                }
            })
            .collect();
        let candle = net
            .forward(&Tensor::from_vec(x.clone(), (n, 40), &Device::Cpu).unwrap())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        let plain = net.to_mlp().unwrap().forward_batch(&x, n);
        assert_eq!(candle.len(), plain.len());
        for (a, b) in candle.iter().zip(&plain) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}
