//! Facts that differ between the guest's view of Linux (x86-64 layouts and flag values, as
//! every WALI guest is built) and the host's, kept in one place. On an x86-64 host every
//! conversion here is the identity.
