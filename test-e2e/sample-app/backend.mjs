// The sample app's backend, reduced to its token check: plain Node, no bundler, so it loads the
// installed package's dist/ files exactly as published. Prints the claims, or null.
import { TurKeyServer } from "@turkey/sdk";

const turkey = new TurKeyServer({ baseUrl: process.env.TURKEY_URL, appId: process.env.TURKEY_APP_ID });
console.log(JSON.stringify(await turkey.verifyAccessToken(process.env.ACCESS_TOKEN)));
