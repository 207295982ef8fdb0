package bench;

import io.undertow.Undertow;
import io.undertow.server.HttpHandler;
import io.undertow.server.HttpServerExchange;
import io.undertow.util.Headers;
import io.undertow.util.Methods;
import java.net.InetSocketAddress;
import java.util.concurrent.CompletableFuture;
import org.apache.flink.statefun.sdk.java.handler.RequestReplyHandler;
import org.apache.flink.statefun.sdk.java.slice.Slice;
import org.apache.flink.statefun.sdk.java.slice.Slices;

/**
 * bench/run_http.py's Java SDK server: BenchFunctions' registry on Undertow, 127.0.0.1.
 *
 * <p>{@code java -jar target/statefun-bench-java.jar [port]} binds the port (default 0, a free
 * one), prints {@code port N} once it accepts connections, and serves POST /statefun until the
 * JVM is stopped (SIGTERM). The handler is the one the StateFun docs show for Undertow: read the
 * whole body, hand it to the SDK's RequestReplyHandler, answer its bytes when the future
 * completes. Undertow's defaults otherwise (I/O threads, keep-alive; no access log).
 */
public final class Server {
  private Server() {}

  static final String PATH = "/statefun";
  static final String OCTET = "application/octet-stream";

  static final class StatefunHandler implements HttpHandler {
    private final RequestReplyHandler handler;

    StatefunHandler(RequestReplyHandler handler) {
      this.handler = handler;
    }

    @Override
    public void handleRequest(HttpServerExchange exchange) {
      if (!PATH.equals(exchange.getRequestPath())) {
        exchange.setStatusCode(404);
        exchange.endExchange();
        return;
      }
      if (!Methods.POST.equals(exchange.getRequestMethod())) {
        exchange.setStatusCode(405);
        exchange.endExchange();
        return;
      }
      exchange.getRequestReceiver().receiveFullBytes(this::onBody);
    }

    private void onBody(HttpServerExchange exchange, byte[] body) {
      exchange.dispatch(); // the answer comes from the future, not from this call's return
      CompletableFuture<Slice> answer = handler.handle(Slices.wrap(body));
      answer.whenComplete((slice, failure) -> answer(exchange, slice, failure));
    }

    private static void answer(HttpServerExchange exchange, Slice slice, Throwable failure) {
      if (failure != null) {
        failure.printStackTrace(System.err);
        exchange.setStatusCode(500);
        exchange.endExchange();
        return;
      }
      exchange.getResponseHeaders().put(Headers.CONTENT_TYPE, OCTET);
      exchange.getResponseSender().send(slice.asReadOnlyByteBuffer());
    }
  }

  public static void main(String[] args) {
    int port = args.length > 0 ? Integer.parseInt(args[0]) : 0;
    Undertow server =
        Undertow.builder()
            .addHttpListener(port, "127.0.0.1")
            .setHandler(new StatefunHandler(BenchFunctions.functions().requestReplyHandler()))
            .build();
    server.start();
    InetSocketAddress bound = (InetSocketAddress) server.getListenerInfo().get(0).getAddress();
    System.out.println("port " + bound.getPort());
    System.out.flush();
  }
}
