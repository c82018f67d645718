//! The comparison operators of a time filter, `OP:TIME`, as Glance's
//! `created_at=gte:...` and IMS's `/v1` listing both name them.

use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
    Neq,
}

impl Op {
    /// `gt`, `gte`, `lt`, `lte`, `eq` or `neq`.
    pub fn parse(name: &str) -> Option<Op> {
        Some(match name {
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "eq" => Op::Eq,
            "neq" => Op::Neq,
            _ => return None,
        })
    }

    /// Whether a value that compares `ord` to the filter's passes it.
    pub fn holds(self, ord: Ordering) -> bool {
        match self {
            Op::Gt => ord == Ordering::Greater,
            Op::Gte => ord != Ordering::Less,
            Op::Lt => ord == Ordering::Less,
            Op::Lte => ord != Ordering::Greater,
            Op::Eq => ord == Ordering::Equal,
            Op::Neq => ord != Ordering::Equal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_operator_reads_its_name_and_compares() {
        let names = ["gt", "gte", "lt", "lte", "eq", "neq"];
        let below = [false, false, true, true, false, true];
        let equal = [false, true, false, true, true, false];
        let above = [true, true, false, false, false, true];
        for (n, name) in names.iter().enumerate() {
            let op = Op::parse(name).unwrap();
            assert_eq!(op.holds(Ordering::Less), below[n], "{name} below");
            assert_eq!(op.holds(Ordering::Equal), equal[n], "{name} equal");
            assert_eq!(op.holds(Ordering::Greater), above[n], "{name} above");
        }
        assert_eq!(Op::parse("in"), None);
    }
}
