import HTTPTypes
import Hummingbird
import NIOCore

/// Serves the console: `/` (the page) and `/console/*` (its script and style), from the binary
/// itself, so a deployed gateway needs no asset directory. The pages are public; everything they
/// show comes from the authenticated APIs and the live stream.
enum ConsoleRoutes {
    static func add(to router: Router<VigilRequestContext>) {
        let page = asset(ConsolePage.html, type: "text/html; charset=utf-8")
        let script = asset(ConsoleScript.javascript, type: "text/javascript; charset=utf-8")
        let style = asset(ConsoleStyle.css, type: "text/css; charset=utf-8")
        router.get("/") { _, _ in page() }
        router.get("/index.html") { _, _ in page() }
        router.get("/console/console.js") { _, _ in script() }
        router.get("/console/style.css") { _, _ in style() }
    }

    private static func asset(_ text: String, type: String) -> @Sendable () -> Response {
        let bytes = ByteBuffer(string: text)
        return {
            // no-cache: revalidate, so an upgraded gateway serves its own console at once.
            Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: .init(byteBuffer: bytes))
        }
    }
}
