// The sandbox's `fields` schema for files is Google's: every field of the Drive v3 File type
// in @googleapis/drive, nested as there, and nothing else.
import { describe, expect, it } from 'vitest';
import { FILE_SCHEMA } from '../../connector/sandbox/fields-filter.js';
import { resourceSchema } from './drive-types.js';

describe('the File schema of fields', () => {
  it('is exactly the Schema$File type of @googleapis/drive, nested fields included', () => {
    const google = resourceSchema('File');
    // A few that real clients ask for (rclone: shortcutDetails, exportLinks, resourceKey).
    expect(google).toHaveProperty('shortcutDetails.targetId', null);
    expect(google).toHaveProperty('exportLinks', 'opaque');
    expect(google).toHaveProperty('capabilities.canEdit', null);
    expect(google).toHaveProperty('permissions.permissionDetails.role', null);
    expect(FILE_SCHEMA).toEqual(google);
  });
});
