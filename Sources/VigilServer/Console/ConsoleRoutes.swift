import HTTPTypes
import Hummingbird
import NIOCore
import VigilConsole

/// Serves the console: `/` (the page) and `/console/*` (its scripts and style), from the binary
/// itself (`VigilConsole`). The pages are public; everything they show comes from the
/// authenticated APIs and the live stream.
enum ConsoleRoutes {
    static func add(to router: Router<VigilRequestContext>) {
        let page = asset(ConsoleAssets.page)
        router.get("/") { _, _ in page() }
        router.get("/index.html") { _, _ in page() }
        for file in ConsoleAssets.files {
            let serve = asset(file)
            router.get(RouterPath(file.path)) { _, _ in serve() }
        }
    }

    private static func asset(_ file: ConsoleAssets.File) -> @Sendable () -> Response {
        let bytes = ByteBuffer(bytes: file.bytes)
        let type = file.contentType
        return {
            // no-cache: revalidate, so an upgraded gateway serves its own console at once.
            Response(status: .ok, headers: [.contentType: type, .cacheControl: "no-cache"], body: .init(byteBuffer: bytes))
        }
    }
}
