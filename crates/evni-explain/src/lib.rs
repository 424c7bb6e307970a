//! Plain-language explanations of a session and answers to questions about
//! it, built only from its readings, its verdict and its station's history.
//! Pure and deterministic: no I/O, the same input gives the same text, and
//! every number written comes from the data.
//!
//! [`Facts`] are what the text is built from; the API may hand their
//! [`fact_lines`] to a language model for richer wording, never more.

mod ask;
pub mod causes;
mod explain;
pub mod facts;
pub mod format;

pub use ask::Answer;
pub use explain::{explanation, fact_lines};
pub use facts::{Facts, Input};

/// A grounded text and the facts it rests on.
#[derive(Debug, Clone, PartialEq)]
pub struct Grounded {
    pub text: String,
    /// The facts as short lines without identifiers, for an LLM's context.
    pub facts: Vec<String>,
    /// False when a question went beyond the data.
    pub answered: bool,
}

/// Explains a session.
pub fn explain(input: &Input<'_>) -> Grounded {
    let facts = Facts::gather(input);
    Grounded {
        text: explanation(&facts),
        facts: fact_lines(&facts),
        answered: true,
    }
}

/// Answers `question` about a session.
pub fn ask(input: &Input<'_>, question: &str) -> Grounded {
    let facts = Facts::gather(input);
    let answer = ask::answer(&facts, question);
    Grounded {
        text: answer.text,
        facts: fact_lines(&facts),
        answered: answer.answered,
    }
}
