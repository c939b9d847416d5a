throw new Error('sqlite3 is not installed in this project (see test/stubs/sqlite3-unused/package.json)');
