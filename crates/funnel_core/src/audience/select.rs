//! A selection evaluated chunk by chunk: for each 65 536 users the whole program runs over
//! plain bits (8 KiB, which stay in the L1 cache), and only the result becomes a Roaring
//! container. Each operator is one pass of word operations, or for a sparse tag a touch of its
//! ids, with no bitmap built per operator and no cardinality kept per word (Roaring's own
//! operators do both). Chunks are shared out between the cores.
//!
//! Tags are read through their container views (`chunks::TagChunks`), made once per tag by the
//! store on its first selection.

use rayon::prelude::*;
use roaring::RoaringBitmap;

use super::chunks::{Part, TagChunks, CHUNK_WORDS};
use super::tags::Op;
use crate::error::{CoreError, Result};

type Words = [u64; CHUNK_WORDS];

/// Ids per chunk.
const CHUNK_IDS: u32 = 64 * CHUNK_WORDS as u32;

/// Fewer chunks than this (about 2M users) are done on the calling thread: handing a few
/// microseconds of work to the pool and waiting for it costs more than it saves.
const PARALLEL_FROM: u32 = 32;

/// What an operand of one chunk is before it needs bits of its own.
#[derive(Clone, Copy)]
enum Source<'a> {
    Empty,
    Full,
    Tag(Part<'a>),
}

/// A stack slot: a source not yet spread into bits, or the bits in the slot's own buffer.
#[derive(Clone, Copy)]
enum Operand<'a> {
    Lazy(Source<'a>),
    Bits,
}

/// How deep `program` takes the stack, after checking it is well formed: every operator has
/// its operands, one result is left, and every tag is one of `n_tags`.
pub(crate) fn depth(program: &[Op], n_tags: usize) -> Result<usize> {
    let malformed = || {
        CoreError::InvalidAudience(
            "malformed selection program (an operator is missing an operand)".into(),
        )
    };
    let (mut height, mut deepest) = (0usize, 0usize);
    for op in program {
        match *op {
            Op::Tag(i) if i >= n_tags => {
                return Err(CoreError::InvalidAudience(format!(
                    "tag index {i} is not in the store ({n_tags} tags)"
                )))
            }
            Op::Tag(_) | Op::All => height += 1,
            Op::Not => height = height.checked_sub(1).ok_or_else(malformed)? + 1,
            Op::And | Op::Or | Op::Sub | Op::Xor => {
                height = height.checked_sub(2).ok_or_else(malformed)? + 1
            }
        }
        deepest = deepest.max(height);
    }
    if height != 1 {
        return Err(malformed());
    }
    Ok(deepest)
}

/// The users `program` selects among `universe` users, `views[i]` being tag `i`'s containers
/// (only the program's tags are read).
pub(crate) fn select<'a>(
    program: &[Op],
    views: &[Option<&'a TagChunks>],
    universe: u32,
) -> Result<RoaringBitmap> {
    let deepest = depth(program, views.len())?;
    if program
        .iter()
        .any(|op| matches!(*op, Op::Tag(i) if views[i].is_none()))
    {
        return Err(CoreError::InvalidAudience(
            "a tag of the selection has no container view".into(),
        ));
    }
    let n_chunks = universe.div_ceil(CHUNK_IDS);
    let chunk = |stack: &mut Vec<Operand<'a>>, key: u32| {
        let key = key as u16;
        BUFFERS.with_borrow_mut(|buffers| {
            let mut run = Run {
                buffers,
                stack,
                views,
            };
            let words = run.program(program, key, deepest);
            // In u64: the last block of a log of 2^32 ids ends at 2^32.
            let first = u64::from(key) * u64::from(CHUNK_IDS);
            if first + u64::from(CHUNK_IDS) > u64::from(universe) {
                keep_below(words, (u64::from(universe) - first) as usize);
            }
            with_bytes(words, |bytes| {
                RoaringBitmap::from_lsb0_bytes(u32::from(key) * CHUNK_IDS, bytes)
            })
        })
    };
    let stack = || Vec::with_capacity(deepest);
    let chunks: Vec<RoaringBitmap> = if n_chunks < PARALLEL_FROM {
        let mut stack = stack();
        (0..n_chunks).map(|key| chunk(&mut stack, key)).collect()
    } else {
        (0..n_chunks)
            .into_par_iter()
            .map_init(stack, chunk)
            .collect()
    };
    let mut out = RoaringBitmap::new();
    for chunk in chunks {
        out |= chunk;
    }
    Ok(out)
}

/// Bits per stack slot, then room to spread a sparse tag for `And`: kept per thread, as
/// zeroing fresh buffers for every chunk would cost as much as the selection.
struct Buffers {
    slots: Vec<Words>,
    temp: Box<Words>,
}

thread_local! {
    static BUFFERS: std::cell::RefCell<Buffers> = std::cell::RefCell::new(Buffers {
        slots: Vec::new(),
        temp: Box::new([0; CHUNK_WORDS]),
    });
}

/// One chunk's evaluation.
struct Run<'r, 'a> {
    buffers: &'r mut Buffers,
    stack: &'r mut Vec<Operand<'a>>,
    views: &'r [Option<&'a TagChunks>],
}

impl<'a> Run<'_, 'a> {
    /// Run `program` (`deepest` slots deep) over chunk `key`; returns the result's bits.
    fn program(&mut self, program: &[Op], key: u16, deepest: usize) -> &mut Words {
        if self.buffers.slots.len() < deepest {
            self.buffers.slots.resize(deepest, [0; CHUNK_WORDS]);
        }
        self.stack.clear();
        for op in program {
            match *op {
                Op::Tag(i) => {
                    let part = self.views[i].and_then(|view| view.part(key));
                    self.stack
                        .push(Operand::Lazy(part.map_or(Source::Empty, Source::Tag)));
                }
                Op::All => self.stack.push(Operand::Lazy(Source::Full)),
                Op::Not => {
                    let slot = self.stack.len() - 1;
                    self.spread(slot);
                    self.buffers.slots[slot].iter_mut().for_each(|w| *w = !*w);
                }
                Op::And | Op::Or | Op::Sub | Op::Xor => {
                    let right = self.stack.len() - 1;
                    let left = right - 1;
                    let (low, high) = self.buffers.slots.split_at_mut(right);
                    let dst = &mut low[left];
                    let right_bits = match self.stack[right] {
                        Operand::Bits => Some(&high[0]),
                        Operand::Lazy(Source::Tag(Part::Bitmap(words))) => Some(words),
                        Operand::Lazy(_) => None,
                    };
                    match (self.stack[left], right_bits) {
                        // Two bitmaps: one pass writes the result (no copy of the left first).
                        (Operand::Lazy(Source::Tag(Part::Bitmap(words))), Some(bits)) => {
                            words_op3(*op, dst, words, bits);
                        }
                        (left_operand, _) => {
                            if let Operand::Lazy(source) = left_operand {
                                spread_into(dst, source);
                            }
                            match (right_bits, self.stack[right]) {
                                (Some(bits), _) => words_op(*op, dst, bits),
                                (None, Operand::Lazy(source)) => {
                                    apply(*op, dst, source, &mut self.buffers.temp[..])
                                }
                                (None, Operand::Bits) => {}
                            }
                        }
                    }
                    self.stack[left] = Operand::Bits;
                    self.stack.pop();
                }
            }
        }
        self.spread(0);
        &mut self.buffers.slots[0]
    }

    /// Give stack slot `slot` bits of its own.
    fn spread(&mut self, slot: usize) {
        if let Operand::Lazy(source) = self.stack[slot] {
            spread_into(&mut self.buffers.slots[slot], source);
            self.stack[slot] = Operand::Bits;
        }
    }
}

fn spread_into(dst: &mut Words, source: Source<'_>) {
    match source {
        Source::Empty => dst.fill(0),
        Source::Full => dst.fill(!0),
        Source::Tag(Part::Bitmap(words)) => dst.copy_from_slice(words),
        Source::Tag(part) => {
            dst.fill(0);
            apply(Op::Or, dst, Source::Tag(part), &mut [0; 0]);
        }
    }
}

/// `dst = dst op source`. `temp` is room to spread a sparse tag for `And` (any length otherwise).
fn apply(op: Op, dst: &mut Words, source: Source<'_>, temp: &mut [u64]) {
    match (source, op) {
        (Source::Tag(Part::Bitmap(words)), _) => words_op(op, dst, words),
        (Source::Empty, Op::And) | (Source::Full, Op::Sub) => dst.fill(0),
        (Source::Empty, _) | (Source::Full, Op::And) => {}
        (Source::Full, Op::Or) => dst.fill(!0),
        (Source::Full, _) => dst.iter_mut().for_each(|w| *w = !*w),
        (Source::Tag(part), Op::And) => {
            let Ok(spread) = <&mut Words>::try_from(temp) else {
                return;
            };
            spread.fill(0);
            apply(Op::Or, spread, Source::Tag(part), &mut [0; 0]);
            words_op(Op::And, dst, spread);
        }
        (Source::Tag(Part::Array(ids)), _) => {
            for &id in ids {
                let (w, bit) = (id as usize >> 6, 1u64 << (id & 63));
                match op {
                    Op::Or => dst[w] |= bit,
                    Op::Sub => dst[w] &= !bit,
                    _ => dst[w] ^= bit,
                }
            }
        }
        (Source::Tag(Part::Runs(pairs)), _) => {
            for pair in pairs.chunks_exact(2) {
                for_range(
                    dst,
                    pair[0] as usize,
                    pair[1] as usize,
                    |w, mask| match op {
                        Op::Or => *w |= mask,
                        Op::Sub => *w &= !mask,
                        _ => *w ^= mask,
                    },
                );
            }
        }
    }
}

/// `dst = dst op src`, word by word (the compiler vectorizes these loops).
fn words_op(op: Op, dst: &mut Words, src: &Words) {
    let pairs = dst.iter_mut().zip(src.iter());
    match op {
        Op::And => pairs.for_each(|(d, s)| *d &= s),
        Op::Or => pairs.for_each(|(d, s)| *d |= s),
        Op::Sub => pairs.for_each(|(d, s)| *d &= !s),
        _ => pairs.for_each(|(d, s)| *d ^= s),
    }
}

/// `dst = a op b`, word by word.
fn words_op3(op: Op, dst: &mut Words, a: &Words, b: &Words) {
    let triples = dst.iter_mut().zip(a.iter().zip(b.iter()));
    match op {
        Op::And => triples.for_each(|(d, (a, b))| *d = a & b),
        Op::Or => triples.for_each(|(d, (a, b))| *d = a | b),
        Op::Sub => triples.for_each(|(d, (a, b))| *d = a & !b),
        _ => triples.for_each(|(d, (a, b))| *d = a ^ b),
    }
}

/// Call `f` with each word of the inclusive bit range `first..=last` and the mask of its bits
/// in the range.
fn for_range(words: &mut Words, first: usize, last: usize, f: impl Fn(&mut u64, u64)) {
    let (w0, w1) = (first >> 6, last >> 6);
    let low = !0u64 << (first & 63);
    let high = !0u64 >> (63 - (last & 63));
    if w0 == w1 {
        f(&mut words[w0], low & high);
        return;
    }
    f(&mut words[w0], low);
    words[w0 + 1..w1].iter_mut().for_each(|w| f(w, !0));
    f(&mut words[w1], high);
}

/// Clear the bits of ids `n..` (ids past the last user, which `~` and `All` would set).
fn keep_below(words: &mut Words, n: usize) {
    if n >= CHUNK_IDS as usize {
        return;
    }
    let (w, bit) = (n >> 6, n & 63);
    words[w] &= (1u64 << bit) - 1;
    words[w + 1..].fill(0);
}

/// `f` of the words as Roaring's lsb0 bytes: bit `i` of word `w` is id `64 w + i`, which is
/// the words' own bytes on a little-endian CPU.
fn with_bytes<R>(words: &Words, f: impl FnOnce(&[u8]) -> R) -> R {
    #[cfg(target_endian = "little")]
    {
        // SAFETY: `u64`s have no padding and every byte is a valid `u8`; the length is the
        // words' size exactly.
        f(unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<u8>(), 8 * CHUNK_WORDS) })
    }
    #[cfg(not(target_endian = "little"))]
    f(&words
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .collect::<Vec<u8>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audience::{Audience, TagStore};
    use proptest::prelude::*;

    /// A selection as a tree, turned into the postfix program the store runs.
    #[derive(Debug, Clone)]
    enum Expr {
        Tag(usize),
        All,
        Not(Box<Expr>),
        Binary(Op, Box<Expr>, Box<Expr>),
    }

    impl Expr {
        fn program(&self, out: &mut Vec<Op>) {
            match self {
                Expr::Tag(i) => out.push(Op::Tag(*i)),
                Expr::All => out.push(Op::All),
                Expr::Not(x) => {
                    x.program(out);
                    out.push(Op::Not);
                }
                Expr::Binary(op, a, b) => {
                    a.program(out);
                    b.program(out);
                    out.push(*op);
                }
            }
        }

        /// Roaring's own operators: the reference.
        fn reference(&self, tags: &[RoaringBitmap], universe: u32) -> RoaringBitmap {
            let all = || RoaringBitmap::from_iter(0..universe);
            match self {
                Expr::Tag(i) => tags[*i].clone(),
                Expr::All => all(),
                Expr::Not(x) => all() - x.reference(tags, universe),
                Expr::Binary(op, a, b) => {
                    let (a, b) = (a.reference(tags, universe), b.reference(tags, universe));
                    match op {
                        Op::And => a & b,
                        Op::Or => a | b,
                        Op::Sub => a - b,
                        _ => a ^ b,
                    }
                }
            }
        }
    }

    fn exprs(n_tags: usize) -> impl Strategy<Value = Expr> {
        let leaf = prop_oneof![9 => (0..n_tags).prop_map(Expr::Tag), 1 => Just(Expr::All)];
        leaf.prop_recursive(4, 24, 2, |inner| {
            prop_oneof![
                1 => inner.clone().prop_map(|x| Expr::Not(Box::new(x))),
                4 => (
                    prop_oneof![Just(Op::And), Just(Op::Or), Just(Op::Sub), Just(Op::Xor)],
                    inner.clone(),
                    inner,
                )
                    .prop_map(|(op, a, b)| Expr::Binary(op, Box::new(a), Box::new(b))),
            ]
        })
    }

    /// A tag over `universe` ids mixing the three container kinds: every `step`-th id of a
    /// range (arrays or bitmaps, by density) and, when `runs`, a run-optimized range too.
    fn tag(universe: u32, (a, b, step, runs): (u32, u32, u32, bool)) -> RoaringBitmap {
        let (first, last) = (a.min(b) % universe, a.max(b) % universe);
        let mut bits: RoaringBitmap = (first..last).step_by(step as usize + 1).collect();
        if runs {
            let start = (a / 3) % universe;
            bits.insert_range(start..(start + 70_000).min(universe));
            bits.optimize();
        }
        bits
    }

    fn tags() -> impl Strategy<Value = Vec<(u32, u32, u32, bool)>> {
        proptest::collection::vec(
            (
                any::<u32>(),
                any::<u32>(),
                prop_oneof![Just(0u32), 1..4u32, 20..80u32, 2000..9000u32],
                any::<bool>(),
            ),
            3,
        )
    }

    fn store(tags: &[RoaringBitmap], universe: u32) -> TagStore {
        let mut store = TagStore::new(universe);
        for (i, t) in tags.iter().enumerate() {
            let audience = Audience::new(t.clone(), universe).expect("ids inside the universe");
            store.add(&format!("t{i}"), audience).expect("a new name");
        }
        store
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]
        #[test]
        fn selections_match_roaring_operators(
            universe in prop_oneof![1u32..70_000, 130_000u32..200_000, Just(131_072u32)],
            shapes in tags(),
            exprs in proptest::collection::vec(exprs(3), 1..4),
        ) {
            let tags: Vec<RoaringBitmap> = shapes.into_iter().map(|s| tag(universe, s)).collect();
            let store = store(&tags, universe);
            for expr in exprs {
                let mut program = Vec::new();
                expr.program(&mut program);
                let got = store.eval(&program).expect("a well-formed program");
                let expected = expr.reference(&tags, universe);
                prop_assert!(got.bits().iter().eq(expected.iter()), "{:?}", expr);
                prop_assert_eq!(got.len(), expected.len());
            }
        }
    }

    #[test]
    fn views_follow_tags_that_are_removed_and_added() {
        let universe = 100_000;
        let tags = [
            (0..universe).step_by(2).collect::<RoaringBitmap>(),
            (50_000..universe).collect(),
            (0..10).collect(),
        ];
        let mut store = store(&tags, universe);
        let first = store.eval(&[Op::Tag(0), Op::Tag(1), Op::And]).unwrap();
        assert_eq!(first.len(), 25_000);
        assert!(store.remove("t0"));
        // t1 is now tag 0 and t2 tag 1: the views must have moved with them.
        let after = store.eval(&[Op::Tag(0), Op::Tag(1), Op::Or]).unwrap();
        assert_eq!(after.len(), 50_010);
        let again = Audience::new((0..3).collect(), universe).unwrap();
        store.add("t3", again).unwrap();
        let last = store.eval(&[Op::Tag(2), Op::Not]).unwrap();
        assert_eq!(last.len(), u64::from(universe) - 3);
    }

    #[test]
    fn malformed_programs_are_refused() {
        let store = store(&[(0..5).collect()], 10);
        for program in [
            &[Op::And][..],
            &[Op::Tag(0), Op::Tag(0)],
            &[Op::Tag(3)],
            &[],
            &[Op::Not],
        ] {
            assert!(store.eval(program).is_err(), "{program:?}");
        }
    }
}
