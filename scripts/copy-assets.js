#!/usr/bin/env node
// Copies what the compiled code reads at run time and SWC does not emit: the .proto sources.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
fs.cpSync(path.join(root, 'proto'), path.join(root, 'dist/proto'), { recursive: true });
