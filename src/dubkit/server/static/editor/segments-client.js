// The line editor's calls: read a job's lines (with their ETag), change one line, queue the re-dub.
//
// Every change carries the ETag of the lines it was made on (If-Match), so a change made in another tab
// meanwhile is never overwritten: the server answers 412 and the lines are read again.

import { request } from "../api.js";

export class SegmentsClient {
  constructor(job) {
    this.segmentsUrl = job.links.segments;
    this.redubUrl = job.links.redub;
    this.etag = null;
  }

  async load() {
    const response = await request(this.segmentsUrl, { raw: true });
    this.etag = response.headers.get("ETag");
    return response.json();
  }

  async change(segmentId, change) {
    const response = await request(`${this.segmentsUrl}/${encodeURIComponent(segmentId)}`, {
      method: "PATCH",
      json: change,
      headers: { "If-Match": this.etag || "" },
      raw: true,
    });
    this.etag = response.headers.get("ETag");
    return response.json();
  }

  // Resolves with the job, queued again for its re-dub.
  redub() {
    return request(this.redubUrl, { method: "POST", headers: this.etag ? { "If-Match": this.etag } : {} });
  }
}
