//! How the cells of a record table compare in the canonical order (`order.rs`): values ascending,
//! nulls after every value, a dictionary column by the dense rank of its values over every chunk.

use std::cmp::Ordering;

use super::columns::{ArrayView, Cell, ChunkedView, Corrupt, Values};

/// How one column's cells compare.
pub(super) enum ColumnOrder {
    /// By value (integers as numbers, strings byte by byte).
    Value,
    /// A dictionary column: the rank of each chunk's dictionary entries among all of the column's
    /// dictionary values (null values ranked together after every value), and how many ranks.
    Rank(Vec<Vec<u64>>, u64),
}

/// Ascending, nulls after every value (Arrow's default placement).
#[inline]
pub(super) fn cmp_cells(a: Cell<'_>, b: Cell<'_>) -> Ordering {
    match (a, b) {
        (Cell::Null, Cell::Null) => Ordering::Equal,
        (Cell::Null, _) => Ordering::Greater,
        (_, Cell::Null) => Ordering::Less,
        (Cell::Str(x), Cell::Str(y)) => x.cmp(y),
        // one column holds one kind; the arms below only keep the order total
        (Cell::Str(_), _) => Ordering::Greater,
        (_, Cell::Str(_)) => Ordering::Less,
        (x, y) => number(x).cmp(&number(y)),
    }
}

#[inline(always)]
pub(super) fn number(c: Cell<'_>) -> i128 {
    match c {
        Cell::Int(v) => v as i128,
        Cell::UInt(v) => v as i128,
        _ => 0,
    }
}

/// The dictionary index of element `i` of a dictionary chunk (`None` for a null index).
#[inline]
pub(super) fn dict_index(view: &ArrayView<'_>, i: usize) -> Result<Option<usize>, Corrupt> {
    let k = view.offset + i;
    if let Some(v) = view.validity {
        if v[k >> 3] & (1 << (k & 7)) == 0 {
            return Ok(None);
        }
    }
    let Values::Dict {
        ty,
        indices,
        dictionary,
    } = &view.values
    else {
        return Err(Corrupt("the chunks of a column differ in type".into()));
    };
    let j = match ty.read(indices, k) {
        Cell::Int(j) => usize::try_from(j).ok(),
        Cell::UInt(j) => usize::try_from(j).ok(),
        _ => None,
    };
    match j {
        Some(j) if j < dictionary.len => Ok(Some(j)),
        _ => Err(Corrupt("a dictionary index is out of range".into())),
    }
}

/// The dense ranks of a dictionary column's values over all its chunks' dictionaries (chunks of
/// one held table each bring their own dictionary), as pyarrow ranks the unified dictionary.
pub(super) fn dictionary_ranks(col: &ChunkedView<'_>) -> Result<ColumnOrder, Corrupt> {
    let mut all: Vec<(Cell<'_>, usize, usize)> = Vec::new();
    let mut ranks = Vec::with_capacity(col.chunks.len());
    for (c, chunk) in col.chunks.iter().enumerate() {
        let Values::Dict { dictionary, .. } = &chunk.values else {
            return Err(Corrupt("the chunks of a column differ in type".into()));
        };
        for j in 0..dictionary.len {
            all.push((dictionary.cell(j)?, c, j));
        }
        ranks.push(vec![0u64; dictionary.len]);
    }
    all.sort_unstable_by(|a, b| cmp_cells(a.0, b.0));
    let mut rank = 0u64;
    for k in 0..all.len() {
        if k > 0 && cmp_cells(all[k - 1].0, all[k].0) != Ordering::Equal {
            rank += 1;
        }
        ranks[all[k].1][all[k].2] = rank;
    }
    let count = if all.is_empty() { 0 } else { rank + 1 };
    Ok(ColumnOrder::Rank(ranks, count))
}
