import { CONNECTOR_VERSION } from '../version.js';

process.stdout.write(`gdrive-backup ${CONNECTOR_VERSION}\n`);
