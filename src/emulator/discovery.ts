/**
 * A Drive v3 discovery document for the methods the emulator implements, with `rootUrl` set to
 * the emulator, so discovery-driven clients (Google's Python client builds itself from one) talk
 * to it unchanged. Shapes and names follow Google's own document for drive:v3; only the methods,
 * parameters and schema fields the emulator serves are listed.
 */

type Param = { type: 'string' | 'boolean' | 'integer'; location: 'path' | 'query'; required?: boolean; default?: string };

const SCOPES = ['https://www.googleapis.com/auth/drive', 'https://www.googleapis.com/auth/drive.file'];

const q = (type: Param['type'] = 'string', dflt?: string): Param => ({ type, location: 'query', ...(dflt !== undefined ? { default: dflt } : {}) });
const pathParam: Param = { type: 'string', location: 'path', required: true };
const fileId = { fileId: pathParam };
const allDrives = { supportsAllDrives: q('boolean', 'false'), supportsTeamDrives: q('boolean', 'false') };

interface MethodSpec {
  http: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  path: string;
  params?: Record<string, Param>;
  request?: string;
  response?: string;
  /** Upload path under rootUrl, e.g. `upload/drive/v3/files`. */
  upload?: string;
  download?: boolean;
}

function method(id: string, m: MethodSpec): Record<string, unknown> {
  const params = m.params ?? {};
  const out: Record<string, unknown> = {
    id,
    httpMethod: m.http,
    path: m.path,
    flatPath: m.path,
    parameters: params,
    parameterOrder: Object.entries(params)
      .filter(([, p]) => p.location === 'path')
      .map(([k]) => k),
    scopes: SCOPES,
  };
  if (m.request) out.request = { $ref: m.request };
  if (m.response) out.response = { $ref: m.response };
  if (m.upload) {
    out.supportsMediaUpload = true;
    out.mediaUpload = {
      accept: ['*/*'],
      maxSize: '5497558138880',
      protocols: {
        simple: { multipart: true, path: `/${m.upload}` },
        resumable: { multipart: true, path: `/resumable/${m.upload}` },
      },
    };
  }
  if (m.download) {
    out.supportsMediaDownload = true;
    out.useMediaDownloadService = true;
  }
  return out;
}

const obj = (id: string, properties: Record<string, unknown>): Record<string, unknown> => ({ id, type: 'object', properties });
const s = { type: 'string' };
const b = { type: 'boolean' };
const arr = (items: unknown) => ({ type: 'array', items });

/** The document, with every URL under `baseUrl` (the emulator's, no trailing slash). */
export function discoveryDocument(baseUrl: string): Record<string, unknown> {
  const rootUrl = `${baseUrl}/`;
  return {
    kind: 'discovery#restDescription',
    discoveryVersion: 'v1',
    id: 'drive:v3',
    name: 'drive',
    version: 'v3',
    title: 'Google Drive API (batch-drive-sync emulator)',
    protocol: 'rest',
    rootUrl,
    servicePath: 'drive/v3/',
    basePath: '/drive/v3/',
    baseUrl: `${rootUrl}drive/v3/`,
    batchPath: 'batch/drive/v3',
    auth: { oauth2: { scopes: Object.fromEntries(SCOPES.map((x) => [x, { description: x }])) } },
    parameters: {
      alt: q('string', 'json'),
      fields: q(),
      key: q(),
      oauth_token: q(),
      prettyPrint: q('boolean', 'true'),
      quotaUser: q(),
      uploadType: q(),
      upload_protocol: q(),
    },
    resources: {
      about: { methods: { get: method('drive.about.get', { http: 'GET', path: 'about', response: 'About' }) } },
      drives: {
        methods: {
          get: method('drive.drives.get', {
            http: 'GET',
            path: 'drives/{driveId}',
            params: { driveId: pathParam, useDomainAdminAccess: q('boolean', 'false') },
            response: 'Drive',
          }),
          list: method('drive.drives.list', {
            http: 'GET',
            path: 'drives',
            params: { pageSize: q('integer', '10'), pageToken: q(), q: q(), useDomainAdminAccess: q('boolean', 'false') },
            response: 'DriveList',
          }),
        },
      },
      files: {
        methods: {
          copy: method('drive.files.copy', {
            http: 'POST',
            path: 'files/{fileId}/copy',
            params: { ...fileId, ...allDrives },
            request: 'File',
            response: 'File',
          }),
          create: method('drive.files.create', {
            http: 'POST',
            path: 'files',
            params: { ...allDrives, keepRevisionForever: q('boolean', 'false'), useContentAsIndexableText: q('boolean', 'false') },
            request: 'File',
            response: 'File',
            upload: 'upload/drive/v3/files',
          }),
          delete: method('drive.files.delete', { http: 'DELETE', path: 'files/{fileId}', params: { ...fileId, ...allDrives } }),
          emptyTrash: method('drive.files.emptyTrash', {
            http: 'DELETE',
            path: 'files/trash',
            params: { driveId: q(), enforceSingleParent: q('boolean', 'false') },
          }),
          generateIds: method('drive.files.generateIds', {
            http: 'GET',
            path: 'files/generateIds',
            params: { count: q('integer', '10'), space: q('string', 'drive'), type: q('string', 'files') },
            response: 'GeneratedIds',
          }),
          get: method('drive.files.get', {
            http: 'GET',
            path: 'files/{fileId}',
            params: { ...fileId, ...allDrives, acknowledgeAbuse: q('boolean', 'false') },
            response: 'File',
            download: true,
          }),
          list: method('drive.files.list', {
            http: 'GET',
            path: 'files',
            params: {
              corpora: q(),
              driveId: q(),
              includeItemsFromAllDrives: q('boolean', 'false'),
              includeTeamDriveItems: q('boolean', 'false'),
              orderBy: q(),
              pageSize: q('integer', '100'),
              pageToken: q(),
              q: q(),
              spaces: q('string', 'drive'),
              ...allDrives,
              teamDriveId: q(),
            },
            response: 'FileList',
          }),
          update: method('drive.files.update', {
            http: 'PATCH',
            path: 'files/{fileId}',
            params: { ...fileId, ...allDrives, addParents: q(), removeParents: q(), keepRevisionForever: q('boolean', 'false') },
            request: 'File',
            response: 'File',
            upload: 'upload/drive/v3/files/{fileId}',
          }),
        },
      },
      permissions: {
        methods: {
          create: method('drive.permissions.create', {
            http: 'POST',
            path: 'files/{fileId}/permissions',
            params: { ...fileId, ...allDrives, emailMessage: q(), sendNotificationEmail: q('boolean'), transferOwnership: q('boolean', 'false') },
            request: 'Permission',
            response: 'Permission',
          }),
          list: method('drive.permissions.list', {
            http: 'GET',
            path: 'files/{fileId}/permissions',
            params: { ...fileId, ...allDrives, pageSize: q('integer'), pageToken: q() },
            response: 'PermissionList',
          }),
        },
      },
    },
    schemas: {
      About: obj('About', {
        kind: s,
        user: { $ref: 'User' },
        storageQuota: { type: 'object', properties: { limit: s, usage: s, usageInDrive: s, usageInDriveTrash: s } },
        maxUploadSize: s,
      }),
      Drive: obj('Drive', { kind: s, id: s, name: s, createdTime: s, hidden: b }),
      DriveList: obj('DriveList', { kind: s, nextPageToken: s, drives: arr({ $ref: 'Drive' }) }),
      File: obj('File', {
        kind: s,
        id: s,
        name: s,
        mimeType: s,
        parents: arr(s),
        trashed: b,
        explicitlyTrashed: b,
        createdTime: s,
        modifiedTime: s,
        size: s,
        md5Checksum: s,
        sha256Checksum: s,
        version: s,
        driveId: s,
        appProperties: { type: 'object', additionalProperties: s },
        webViewLink: s,
      }),
      FileList: obj('FileList', { kind: s, incompleteSearch: b, nextPageToken: s, files: arr({ $ref: 'File' }) }),
      GeneratedIds: obj('GeneratedIds', { kind: s, space: s, ids: arr(s) }),
      Permission: obj('Permission', { kind: s, id: s, type: s, role: s, emailAddress: s, domain: s, allowFileDiscovery: b }),
      PermissionList: obj('PermissionList', { kind: s, nextPageToken: s, permissions: arr({ $ref: 'Permission' }) }),
      User: obj('User', { kind: s, displayName: s, me: b, permissionId: s, emailAddress: s }),
    },
  };
}
