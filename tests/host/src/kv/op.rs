//! [`KvOp`]: the kinds of store call, for counters and fault injection.

/// The kinds of call the guest makes, for counters and fault injection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KvOp {
    Open,
    Get,
    Set,
    Delete,
    Exists,
    ListKeys,
    CasNew,
    CasCurrent,
    Swap,
    Increment,
    GetMany,
    SetMany,
    DeleteMany,
}

impl KvOp {
    /// Every call on a bucket or cas (everything but [`KvOp::Open`]).
    pub const DATA: [KvOp; 12] = [
        KvOp::Get,
        KvOp::Set,
        KvOp::Delete,
        KvOp::Exists,
        KvOp::ListKeys,
        KvOp::CasNew,
        KvOp::CasCurrent,
        KvOp::Swap,
        KvOp::Increment,
        KvOp::GetMany,
        KvOp::SetMany,
        KvOp::DeleteMany,
    ];
    /// Calls that write.
    pub const WRITES: [KvOp; 6] = [
        KvOp::Set,
        KvOp::Delete,
        KvOp::Swap,
        KvOp::Increment,
        KvOp::SetMany,
        KvOp::DeleteMany,
    ];
    /// Calls that read values or keys.
    pub const READS: [KvOp; 5] = [
        KvOp::Get,
        KvOp::Exists,
        KvOp::ListKeys,
        KvOp::CasCurrent,
        KvOp::GetMany,
    ];
}
