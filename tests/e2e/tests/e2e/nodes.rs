//! Several Postern nodes on one PostgreSQL store. (To be written.)
