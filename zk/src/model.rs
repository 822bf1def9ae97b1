//! The model a proof is about — a small quantized MLP — and its weights file.
//!
//! # The model
//! Input `x ∈ int8ⁿ`; hidden layer `a_j = b1_j + Σᵢ W1_ji·xᵢ` (int8 weights, int32 bias), then
//! `h_j = 0` if `a_j < 0`, else `min(a_j >> shift, 127)` (ReLU, requantization by a right shift, saturation);
//! output logits `y_k = b2_k + Σ_j W2_kj·h_j` (int8 weights, int32 bias). Integers only, so the native
//! computation and the circuit agree bit for bit.
//!
//! # The weights file (`VZK1`)
//! | bytes | field |
//! |---|---|
//! | 4 | magic `VZK1` |
//! | 1 each | `inputs`, `hidden`, `outputs` (1..=[`MAX_DIM`]), `shift` (0..=[`MAX_SHIFT`]) |
//! | `hidden·inputs` | `W1`, int8, row `j` = hidden unit `j` |
//! | `4·hidden` | `b1`, int32 little-endian, `|b| ≤` [`MAX_BIAS`] |
//! | `outputs·hidden` | `W2`, int8, row `k` = output `k` |
//! | `4·outputs` | `b2`, int32 little-endian, `|b| ≤` [`MAX_BIAS`] |
//!
//! Nothing else: the length is exact, so every file parses to one model and re-encodes to the same bytes. Its
//! keccak256 is the registry's content hash; [`Model::commitment`] is the circuit's weights commitment. The
//! bounds keep every intermediate value far below the field size (`|a_j|, |y_k| < 2²⁵`), so no arithmetic in
//! the circuit wraps.

use alloy_primitives::{keccak256, B256};
use ark_bn254::Fr;

use crate::{
    field::fr_from_i64,
    hash::{hash, Domain},
};

/// The file's first four bytes.
pub const MAGIC: [u8; 4] = *b"VZK1";
/// The largest layer width.
pub const MAX_DIM: u8 = 64;
/// The largest requantization shift.
pub const MAX_SHIFT: u8 = 24;
/// The largest bias magnitude (2²⁴).
pub const MAX_BIAS: i32 = 1 << 24;
/// The largest hidden activation (int8 saturation).
pub const MAX_ACTIVATION: i64 = 127;

/// A model's dimensions and requantization shift — all a proving key depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Input width.
    pub inputs: u8,
    /// Hidden units.
    pub hidden: u8,
    /// Output width.
    pub outputs: u8,
    /// Right shift applied to hidden pre-activations.
    pub shift: u8,
}

impl Shape {
    /// The four header bytes (after the magic).
    pub fn to_bytes(self) -> [u8; 4] {
        [self.inputs, self.hidden, self.outputs, self.shift]
    }

    /// Parses and checks the four header bytes.
    pub fn from_bytes(bytes: [u8; 4]) -> Result<Self, FormatError> {
        let [inputs, hidden, outputs, shift] = bytes;
        for (name, dim) in [("inputs", inputs), ("hidden", hidden), ("outputs", outputs)] {
            if !(1..=MAX_DIM).contains(&dim) {
                return Err(FormatError::Dimension { name, value: dim });
            }
        }
        if shift > MAX_SHIFT {
            return Err(FormatError::Shift(shift));
        }
        Ok(Self {
            inputs,
            hidden,
            outputs,
            shift,
        })
    }

    /// The exact length of a weights file of this shape.
    pub fn file_len(self) -> usize {
        let (n, h, m) = self.dims();
        8 + h * n + 4 * h + m * h + 4 * m
    }

    /// `(inputs, hidden, outputs)` as `usize`.
    pub fn dims(self) -> (usize, usize, usize) {
        (
            usize::from(self.inputs),
            usize::from(self.hidden),
            usize::from(self.outputs),
        )
    }
}

/// Why a weights file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// The first four bytes are not [`MAGIC`].
    #[error("not a VZK1 weights file")]
    Magic,
    /// A dimension is outside `1..=MAX_DIM`.
    #[error("{name} = {value} is outside 1..={MAX_DIM}")]
    Dimension {
        /// Which dimension.
        name: &'static str,
        /// Its value.
        value: u8,
    },
    /// The shift exceeds [`MAX_SHIFT`].
    #[error("shift {0} exceeds {MAX_SHIFT}")]
    Shift(u8),
    /// The file is not exactly as long as its header says.
    #[error("{got} bytes, the header implies {expected}")]
    Length {
        /// The length the header implies.
        expected: usize,
        /// The actual length.
        got: usize,
    },
    /// A bias exceeds [`MAX_BIAS`] in magnitude.
    #[error("bias {0} exceeds ±{MAX_BIAS}")]
    Bias(i32),
}

/// A quantized two-layer MLP (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    shape: Shape,
    w1: Vec<i8>,
    b1: Vec<i32>,
    w2: Vec<i8>,
    b2: Vec<i32>,
}

impl Model {
    /// A model from its parts; checks the lengths and bias bounds.
    pub fn new(
        shape: Shape,
        w1: Vec<i8>,
        b1: Vec<i32>,
        w2: Vec<i8>,
        b2: Vec<i32>,
    ) -> Result<Self, FormatError> {
        let shape = Shape::from_bytes(shape.to_bytes())?;
        let (n, h, m) = shape.dims();
        let lengths = [
            (w1.len(), h * n),
            (b1.len(), h),
            (w2.len(), m * h),
            (b2.len(), m),
        ];
        if lengths.iter().any(|(got, expected)| got != expected) {
            let got = 8 + w1.len() + 4 * b1.len() + w2.len() + 4 * b2.len();
            return Err(FormatError::Length {
                expected: shape.file_len(),
                got,
            });
        }
        if let Some(b) = b1
            .iter()
            .chain(&b2)
            .find(|b| b.unsigned_abs() > MAX_BIAS as u32)
        {
            return Err(FormatError::Bias(*b));
        }
        Ok(Self {
            shape,
            w1,
            b1,
            w2,
            b2,
        })
    }

    /// Every weight and bias zero (what key generation synthesizes: keys depend on the shape only).
    pub fn zeros(shape: Shape) -> Self {
        let (n, h, m) = shape.dims();
        Self {
            shape,
            w1: vec![0; h * n],
            b1: vec![0; h],
            w2: vec![0; m * h],
            b2: vec![0; m],
        }
    }

    /// A deterministic pseudo-random model (splitmix64 from `seed`): int8 weights over the full range, biases
    /// within ±4096, shift 7. For tests, examples and the benchmark.
    pub fn example(inputs: u8, hidden: u8, outputs: u8, seed: u64) -> Self {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        };
        let shape = Shape {
            inputs,
            hidden,
            outputs,
            shift: 7,
        };
        let (n, h, m) = shape.dims();
        // Truncation intended: the low byte as a random int8; the low 13 bits less 4096 as a small bias.
        let mut weights = |count| (0..count).map(|_| next() as u8 as i8).collect::<Vec<_>>();
        let w1 = weights(h * n);
        let w2 = weights(m * h);
        let mut biases = |count| {
            (0..count)
                .map(|_| (next() % 8_193) as i32 - 4_096)
                .collect::<Vec<_>>()
        };
        let b1 = biases(h);
        let b2 = biases(m);
        Self {
            shape,
            w1,
            b1,
            w2,
            b2,
        }
    }

    /// Parses a `VZK1` weights file.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FormatError> {
        if bytes.len() < 8 || bytes[..4] != MAGIC {
            return Err(FormatError::Magic);
        }
        let shape = Shape::from_bytes([bytes[4], bytes[5], bytes[6], bytes[7]])?;
        if bytes.len() != shape.file_len() {
            return Err(FormatError::Length {
                expected: shape.file_len(),
                got: bytes.len(),
            });
        }
        let (n, h, m) = shape.dims();
        let mut rest = &bytes[8..];
        let mut take = |len: usize| {
            let (head, tail) = rest.split_at(len);
            rest = tail;
            head
        };
        let int8s = |b: &[u8]| b.iter().map(|v| *v as i8).collect::<Vec<_>>();
        let int32s = |b: &[u8]| {
            b.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect::<Vec<_>>()
        };
        let w1 = int8s(take(h * n));
        let b1 = int32s(take(4 * h));
        let w2 = int8s(take(m * h));
        let b2 = int32s(take(4 * m));
        Self::new(shape, w1, b1, w2, b2)
    }

    /// The `VZK1` bytes of this model.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.shape.file_len());
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&self.shape.to_bytes());
        out.extend(self.w1.iter().map(|w| *w as u8));
        out.extend(self.b1.iter().flat_map(|b| b.to_le_bytes()));
        out.extend(self.w2.iter().map(|w| *w as u8));
        out.extend(self.b2.iter().flat_map(|b| b.to_le_bytes()));
        out
    }

    /// The registry's content hash of this model: keccak256 of its weights file.
    pub fn content_hash(&self) -> B256 {
        keccak256(self.to_bytes())
    }

    /// The model's shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The field elements the weights commitment absorbs: the shape, then `W1`, `b1`, `W2`, `b2`.
    pub fn commitment_elements(&self) -> Vec<Fr> {
        let shape = self.shape.to_bytes().map(|b| Fr::from(u64::from(b)));
        shape
            .into_iter()
            .chain(self.w1.iter().map(|w| fr_from_i64(i64::from(*w))))
            .chain(self.b1.iter().map(|b| fr_from_i64(i64::from(*b))))
            .chain(self.w2.iter().map(|w| fr_from_i64(i64::from(*w))))
            .chain(self.b2.iter().map(|b| fr_from_i64(i64::from(*b))))
            .collect()
    }

    /// The weights commitment: Poseidon over [`Model::commitment_elements`] in [`Domain::Weights`].
    pub fn commitment(&self) -> Fr {
        hash(Domain::Weights, &self.commitment_elements())
    }

    /// `W1`, row-major by hidden unit.
    pub fn w1(&self) -> &[i8] {
        &self.w1
    }

    /// `b1`.
    pub fn b1(&self) -> &[i32] {
        &self.b1
    }

    /// `W2`, row-major by output.
    pub fn w2(&self) -> &[i8] {
        &self.w2
    }

    /// `b2`.
    pub fn b2(&self) -> &[i32] {
        &self.b2
    }

    /// The hidden pre-activations `a_j` for `input` (which must have `inputs` values).
    pub fn pre_activations(&self, input: &[i8]) -> Vec<i64> {
        let (n, _, _) = self.shape.dims();
        self.w1
            .chunks_exact(n)
            .zip(&self.b1)
            .map(|(row, b)| {
                row.iter().zip(input).fold(i64::from(*b), |acc, (w, x)| {
                    acc + i64::from(*w) * i64::from(*x)
                })
            })
            .collect()
    }

    /// The hidden activation of pre-activation `a`: ReLU, right shift, saturation at 127.
    pub fn activation(&self, a: i64) -> i64 {
        if a < 0 {
            0
        } else {
            (a >> self.shape.shift).min(MAX_ACTIVATION)
        }
    }

    /// The model's output logits for `input`.
    pub fn infer(&self, input: &[i8]) -> Result<Vec<i64>, crate::Error> {
        let (n, h, _) = self.shape.dims();
        if input.len() != n {
            return Err(crate::Error::InputLength {
                expected: n,
                got: input.len(),
            });
        }
        let hidden: Vec<i64> = self
            .pre_activations(input)
            .into_iter()
            .map(|a| self.activation(a))
            .collect();
        Ok(self
            .w2
            .chunks_exact(h)
            .zip(&self.b2)
            .map(|(row, b)| {
                row.iter()
                    .zip(&hidden)
                    .fold(i64::from(*b), |acc, (w, v)| acc + i64::from(*w) * v)
            })
            .collect())
    }
}

/// The receipt's `inputHash` of `input`: Poseidon over its values in [`Domain::Input`].
pub fn input_hash(input: &[i8]) -> Fr {
    let elements: Vec<Fr> = input.iter().map(|x| fr_from_i64(i64::from(*x))).collect();
    hash(Domain::Input, &elements)
}

/// The receipt's `outputHash` of `output`: Poseidon over its values in [`Domain::Output`].
pub fn output_hash(output: &[i64]) -> Fr {
    let elements: Vec<Fr> = output.iter().map(|y| fr_from_i64(*y)).collect();
    hash(Domain::Output, &elements)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tiny() -> Model {
        let shape = Shape {
            inputs: 2,
            hidden: 3,
            outputs: 2,
            shift: 2,
        };
        Model::new(
            shape,
            vec![1, 2, -1, 3, 127, -128],
            vec![0, -4, 100],
            vec![1, 1, 1, -2, 0, 5],
            vec![10, -10],
        )
        .unwrap()
    }

    #[test]
    fn infers_by_hand() {
        let m = tiny();
        // a = [0 + 5·1 + 6·2, -4 + 5·(-1) + 6·3, 100 + 5·127 + 6·(-128)] = [17, 9, -33]
        assert_eq!(m.pre_activations(&[5, 6]), vec![17, 9, -33]);
        // h = [17 >> 2, 9 >> 2, 0] = [4, 2, 0]; y = [10 + 4 + 2, -10 - 8 + 0] = [16, -18]
        assert_eq!(m.infer(&[5, 6]).unwrap(), vec![16, -18]);
        assert!(matches!(
            m.infer(&[1]),
            Err(crate::Error::InputLength {
                expected: 2,
                got: 1
            })
        ));
    }

    #[test]
    fn activation_saturates_at_127() {
        let m = tiny();
        assert_eq!(m.activation(-1), 0);
        assert_eq!(m.activation(3), 0);
        assert_eq!(m.activation(4 * 127 + 3), 127);
        assert_eq!(m.activation(4 * 128), 127);
        assert_eq!(m.activation(1 << 24), 127);
    }

    #[test]
    fn file_round_trips_and_is_strict() {
        let m = Model::example(4, 8, 3, 1);
        let bytes = m.to_bytes();
        assert_eq!(bytes.len(), m.shape().file_len());
        assert_eq!(Model::from_bytes(&bytes).unwrap(), m);
        assert_eq!(&bytes[..4], b"VZK1");
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            Model::from_bytes(&longer),
            Err(FormatError::Length { .. })
        ));
        assert!(matches!(
            Model::from_bytes(&bytes[..bytes.len() - 1]),
            Err(FormatError::Length { .. })
        ));
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(Model::from_bytes(&bad), Err(FormatError::Magic));
        let mut bad = bytes.clone();
        bad[5] = 0;
        assert!(matches!(
            Model::from_bytes(&bad),
            Err(FormatError::Dimension { name: "hidden", .. })
        ));
        let mut bad = bytes.clone();
        bad[7] = MAX_SHIFT + 1;
        assert_eq!(
            Model::from_bytes(&bad),
            Err(FormatError::Shift(MAX_SHIFT + 1))
        );
        // b1[0] = 2^24 + 1
        let mut bad = bytes;
        let at = 8 + 8 * 4;
        bad[at..at + 4].copy_from_slice(&(MAX_BIAS + 1).to_le_bytes());
        assert_eq!(
            Model::from_bytes(&bad),
            Err(FormatError::Bias(MAX_BIAS + 1))
        );
    }

    #[test]
    fn commitment_and_content_hash_change_with_any_weight() {
        let m = Model::example(4, 8, 3, 1);
        let bytes = m.to_bytes();
        for at in [8, 8 + 32, 8 + 32 + 32, bytes.len() - 4] {
            let mut changed = bytes.clone();
            changed[at] ^= 1;
            let other = Model::from_bytes(&changed).unwrap();
            assert_ne!(other.commitment(), m.commitment(), "byte {at}");
            assert_ne!(other.content_hash(), m.content_hash());
        }
    }

    #[test]
    fn extreme_values_stay_far_below_the_field() {
        let shape = Shape {
            inputs: MAX_DIM,
            hidden: MAX_DIM,
            outputs: 1,
            shift: 0,
        };
        let (n, h, m) = shape.dims();
        let model = Model::new(
            shape,
            vec![-128; h * n],
            vec![-MAX_BIAS; h],
            vec![-128; m * h],
            vec![-MAX_BIAS; m],
        )
        .unwrap();
        let a = model.pre_activations(&[-128; 64]);
        assert!(a.iter().all(|v| v.abs() < 1 << 25));
        let y = model.infer(&[-128; 64]).unwrap();
        assert!(y.iter().all(|v| v.abs() < 1 << 25), "{y:?}");
    }

    proptest! {
        #[test]
        fn any_valid_model_round_trips(seed in any::<u64>(), n in 1u8..=8, h in 1u8..=8, m in 1u8..=4) {
            let model = Model::example(n, h, m, seed);
            prop_assert_eq!(Model::from_bytes(&model.to_bytes()).unwrap(), model);
        }

        #[test]
        fn hidden_activations_are_int8(seed in any::<u64>(), input in proptest::collection::vec(any::<i8>(), 4)) {
            let model = Model::example(4, 8, 3, seed);
            for a in model.pre_activations(&input) {
                prop_assert!((0..=127).contains(&model.activation(a)));
            }
        }
    }
}
