package bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.apache.flink.statefun.sdk.java.AddressScopedStorage;
import org.apache.flink.statefun.sdk.java.Context;
import org.apache.flink.statefun.sdk.java.StatefulFunction;
import org.apache.flink.statefun.sdk.java.StatefulFunctionSpec;
import org.apache.flink.statefun.sdk.java.StatefulFunctions;
import org.apache.flink.statefun.sdk.java.TypeName;
import org.apache.flink.statefun.sdk.java.ValueSpec;
import org.apache.flink.statefun.sdk.java.io.KafkaEgressMessage;
import org.apache.flink.statefun.sdk.java.message.Message;
import org.apache.flink.statefun.sdk.java.message.MessageBuilder;
import org.apache.flink.statefun.sdk.java.types.SimpleType;
import org.apache.flink.statefun.sdk.java.types.Type;

/**
 * The four functions of bench/CONTRACT.md with the official Java SDK's public API.
 *
 * <p>Written the way the SDK's documentation writes functions: one StatefulFunction per
 * typename, ValueSpecs declared on the spec, Context.storage() to read and write, builders for
 * messages and Kafka records. W2's JSON state is a Java record behind an immutable custom type
 * (SimpleType.simpleImmutableTypeFrom with Jackson, as the docs' custom-type example): the SDK
 * decodes it on the first get() of a batch and encodes it once when the batch is answered.
 */
public final class BenchFunctions {
  private BenchFunctions() {}

  static final ObjectMapper JSON = new ObjectMapper();

  /** W2's profile state: the JSON object of the contract, every key kept. */
  public record Profile(
      String id,
      String owner,
      String email,
      String plan,
      List<String> tags,
      Map<String, Integer> limits,
      int n,
      int last,
      int total) {
    Profile counted(int delta) {
      return new Profile(id, owner, email, plan, tags, limits, n + 1, delta, total + delta);
    }
  }

  static final Type<Profile> PROFILE_TYPE =
      SimpleType.simpleImmutableTypeFrom(
          TypeName.typeNameFromString("bench.types/profile"),
          JSON::writeValueAsBytes,
          bytes -> JSON.readValue(bytes, Profile.class));

  static String greeting(String name, int seen) {
    return "Hello " + name + "! You have been seen " + seen + " times.";
  }

  // W1 ------------------------------------------------------------------------------------

  static final TypeName GREETER = TypeName.typeNameFromString("bench.fns/greeter");
  static final TypeName GREETINGS = TypeName.typeNameFromString("bench.io/greetings");
  static final ValueSpec<Integer> SEEN = ValueSpec.named("seen").withIntType();

  static final class Greeter implements StatefulFunction {
    @Override
    public CompletableFuture<Void> apply(Context context, Message message) {
      String name = message.asUtf8String();
      AddressScopedStorage storage = context.storage();
      int seen = storage.get(SEEN).orElse(0) + 1;
      storage.set(SEEN, seen);
      context.send(
          KafkaEgressMessage.forEgress(GREETINGS)
              .withTopic("greetings")
              .withUtf8Key(context.self().id())
              .withUtf8Value(greeting(name, seen))
              .build());
      return context.done();
    }
  }

  // W2 ------------------------------------------------------------------------------------

  static final TypeName BATCH = TypeName.typeNameFromString("bench.fns/batch");
  static final ValueSpec<Integer> COUNTER = ValueSpec.named("counter").withIntType();
  static final ValueSpec<Profile> PROFILE = ValueSpec.named("profile").withCustomType(PROFILE_TYPE);
  static final ValueSpec<String> LABEL = ValueSpec.named("label").withUtf8StringType();

  static final class Batch implements StatefulFunction {
    @Override
    public CompletableFuture<Void> apply(Context context, Message message) {
      int delta = message.asInt();
      AddressScopedStorage storage = context.storage();
      storage.set(COUNTER, storage.get(COUNTER).orElse(0) + delta);
      Profile profile = storage.get(PROFILE).orElseThrow();
      storage.set(PROFILE, profile.counted(delta));
      return context.done();
    }
  }

  // W3 ------------------------------------------------------------------------------------

  static final TypeName FANOUT = TypeName.typeNameFromString("bench.fns/fanout");
  static final TypeName SINK = TypeName.typeNameFromString("bench.fns/sink");
  static final TypeName TIMER = TypeName.typeNameFromString("bench.fns/timer");
  static final TypeName EVENTS = TypeName.typeNameFromString("bench.io/events");
  static final List<String> TOPICS = List.of("events-a", "events-b");

  static final class Fanout implements StatefulFunction {
    @Override
    public CompletableFuture<Void> apply(Context context, Message message) {
      String arg = message.asUtf8String();
      String ownId = context.self().id();
      for (int i = 0; i < 10; i++) {
        context.send(MessageBuilder.forAddress(SINK, "sink-" + i).withValue(arg + "#" + i).build());
      }
      context.sendAfter(
          Duration.ofSeconds(5),
          "timeout-" + arg,
          MessageBuilder.forAddress(TIMER, ownId).withValue(arg).build());
      for (String topic : TOPICS) {
        context.send(
            KafkaEgressMessage.forEgress(EVENTS)
                .withTopic(topic)
                .withUtf8Key(ownId)
                .withUtf8Value(arg + "@" + topic)
                .build());
      }
      return context.done();
    }
  }

  // W4 ------------------------------------------------------------------------------------

  static final TypeName COLD = TypeName.typeNameFromString("bench.fns/cold");
  static final ValueSpec<Integer> VISITS = ValueSpec.named("visits").withIntType();
  static final ValueSpec<String> COLD_NAME =
      ValueSpec.named("name").thatExpireAfterWrite(Duration.ofSeconds(60)).withUtf8StringType();
  static final ValueSpec<Profile> COLD_PROFILE =
      ValueSpec.named("profile").thatExpiresAfterCall(Duration.ofHours(1)).withCustomType(PROFILE_TYPE);

  static final class Cold implements StatefulFunction {
    @Override
    public CompletableFuture<Void> apply(Context context, Message message) {
      AddressScopedStorage storage = context.storage();
      storage.set(VISITS, storage.get(VISITS).orElse(0) + 1);
      return context.done();
    }
  }

  /** One registry with all four, as one endpoint would serve them. */
  public static StatefulFunctions functions() {
    StatefulFunctions functions = new StatefulFunctions();
    functions.withStatefulFunction(
        StatefulFunctionSpec.builder(GREETER).withValueSpec(SEEN).withSupplier(Greeter::new));
    functions.withStatefulFunction(
        StatefulFunctionSpec.builder(BATCH)
            .withValueSpecs(COUNTER, PROFILE, LABEL)
            .withSupplier(Batch::new));
    functions.withStatefulFunction(StatefulFunctionSpec.builder(FANOUT).withSupplier(Fanout::new));
    functions.withStatefulFunction(
        StatefulFunctionSpec.builder(COLD)
            .withValueSpecs(VISITS, COLD_NAME, COLD_PROFILE)
            .withSupplier(Cold::new));
    return functions;
  }
}
