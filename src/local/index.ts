// Public API of src/local: the daemon's only way to look at and read the output tree.
// Depends on nothing else of the daemon (drive, sync and watch import it, never the reverse).
export { LocalFileError, fsError, refused } from './errors.js';
export { checkJobId, checkRelativeName, escapeName, isSafeJobId, jobIdProblem, utf8Name } from './names.js';
export { createJobDirCache, openInside, openJobFile, resolveJobDir, type JobDirCache, type LocalFile } from './open.js';
export { walkJobDir, type JobTree, type WalkedFile } from './walk.js';
