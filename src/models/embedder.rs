//! all-MiniLM-L6-v2 on the CPU: a text's tokens (at most 256) through the BERT encoder, the
//! token vectors averaged over the attention mask and scaled to length 1 (the
//! sentence-transformers recipe), so that cosine similarity is a dot product.

use super::{ModelError, DIMENSIONS, MAX_TOKENS};
use candle_core::{Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config, DTYPE};
use std::path::Path;
use tokenizers::{Tokenizer, TruncationParams};

pub struct Embedder {
    model: BertModel,
    tokenizer: Tokenizer,
}

/// A text's embedding, and whether the text was longer than the model reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedding {
    pub vector: Vec<f32>,
    pub truncated: bool,
}

fn run(err: impl std::fmt::Display) -> ModelError {
    ModelError::Run(err.to_string())
}

impl Embedder {
    pub fn load(dir: &Path) -> Result<Self, ModelError> {
        for (file, _) in super::FILES {
            if !dir.join(file).is_file() {
                return Err(ModelError::Missing(dir.to_path_buf()));
            }
        }
        let read = |file: &str| {
            let path = dir.join(file);
            std::fs::read(&path).map_err(|source| ModelError::Io { path, source })
        };
        let config: Config = serde_json::from_slice(&read("config.json")?).map_err(run)?;
        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?).map_err(run)?;
        // The file pads every text to 128 tokens and cuts there; pmbot embeds one text at a
        // time (no padding needed) and reads as far as the model was trained to (256).
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(run)?;
        // Read, not mapped: a file replaced underneath a mapping would be undefined behaviour.
        let weights = read("model.safetensors")?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DTYPE, &Device::Cpu).map_err(run)?;
        let model = BertModel::load(vb, &config).map_err(run)?;
        Ok(Embedder { model, tokenizer })
    }

    /// The text's embedding (a text of no tokens gets the [CLS]/[SEP] pair's, still a vector).
    pub fn embed(&self, text: &str) -> Result<Embedding, ModelError> {
        // The tokenizer's cost grows with the text; a decision never needs more than the
        // start of a 40 kB paste, and 256 tokens are well within 8,000 characters.
        let text: String = text.chars().take(8000).collect();
        let encoding = self.tokenizer.encode(text.as_str(), true).map_err(run)?;
        let truncated = !encoding.get_overflowing().is_empty();
        let ids = encoding.get_ids();
        let n = ids.len();
        let input = Tensor::new(ids, &Device::Cpu).and_then(|t| t.reshape((1, n))).map_err(run)?;
        let types = input.zeros_like().map_err(run)?;
        let mask =
            Tensor::new(encoding.get_attention_mask(), &Device::Cpu).and_then(|t| t.reshape((1, n))).map_err(run)?;
        let hidden = self.model.forward(&input, &types, Some(&mask)).map_err(run)?;
        // One text, no padding: the mean over tokens is the masked mean.
        let mean = hidden.mean(1).and_then(|t| t.squeeze(0)).and_then(|t| t.to_vec1::<f32>()).map_err(run)?;
        if mean.len() != DIMENSIONS {
            return Err(ModelError::Run(format!("the model gave {} dimensions, not {DIMENSIONS}", mean.len())));
        }
        Ok(Embedding { vector: normalized(mean), truncated })
    }
}

/// Scaled to length 1 (a zero vector stays zero).
pub fn normalized(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}
