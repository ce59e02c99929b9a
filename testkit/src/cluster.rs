//! The throwaway PostgreSQL the tests of one binary share: started on first use, stopped by its
//! guardian when the process exits (a `static` is never dropped). One cluster per binary keeps
//! the suite to a few `initdb` runs; each test makes its own database in it.

use std::sync::OnceLock;

use crate::pgcluster::{ClusterOptions, PgCluster};

/// A cluster started once with the options `options` gives, for a `static`.
pub struct SharedCluster {
    cell: OnceLock<PgCluster>,
    options: fn() -> ClusterOptions,
}

impl SharedCluster {
    pub const fn new(options: fn() -> ClusterOptions) -> SharedCluster {
        SharedCluster {
            cell: OnceLock::new(),
            options,
        }
    }

    /// The running cluster. Panics with the cause (and how to install the server) when it cannot
    /// start: the tests that ask for it cannot pass without it, and must not look as if they did.
    pub fn get(&self) -> &PgCluster {
        self.cell.get_or_init(|| {
            PgCluster::start_with((self.options)())
                .unwrap_or_else(|e| panic!("these tests need a local PostgreSQL server: {e}"))
        })
    }
}

/// The binary's shared cluster with the default options: trusted logins, no TLS.
pub fn shared() -> &'static PgCluster {
    static CLUSTER: SharedCluster = SharedCluster::new(ClusterOptions::default);
    CLUSTER.get()
}
