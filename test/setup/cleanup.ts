import { afterAll } from 'vitest';
import { removeTempDirs } from '../helpers.js';

// Every test file removes the temporary directories it made (after its own leftover assertions ran).
afterAll(async () => removeTempDirs());
