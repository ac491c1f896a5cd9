//! Sans-I/O IMAP server core.
