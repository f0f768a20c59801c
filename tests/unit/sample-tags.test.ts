import { describe, expect, it } from "vitest";
import { sampleStylesOf } from "../../src/images/sample-tags.js";

describe("the fixtures' sample images by their :local tag", () => {
  it("names the styles graceful-e2e builds; a user's image, another tag or an unknown style is left alone", () => {
    expect(
      sampleStylesOf([
        "graceful-e2e/exec-form:local",
        "graceful-e2e/nginx:local",
        "graceful-e2e/exec-form:local",
        "graceful-e2e/exec-form:1a2b3c",
        "graceful-e2e/no-such-style:local",
        "shop/web:2",
        "docker.io/graceful-e2e/nginx:local",
      ]),
    ).toEqual(["exec-form", "nginx"]);
  });
});
