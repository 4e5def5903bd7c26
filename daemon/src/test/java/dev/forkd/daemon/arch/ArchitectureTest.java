package dev.forkd.daemon.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layering DESIGN §2 promises, checked on the compiled classes: gRPC and netty only in the
 * daemon's gRPC package, no cycles between the daemon's packages, the zygote module free of gRPC
 * and of the generated API.
 */
class ArchitectureTest {
  static JavaClasses daemon;
  static JavaClasses zygote;

  @BeforeAll
  static void load() {
    ClassFileImporter importer =
        new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS);
    daemon = importer.importPackages("dev.forkd.daemon");
    zygote = importer.importPackages("dev.forkd.zygote");
  }

  @Test
  void grpcAndNettyStayInTheGrpcPackage() {
    noClasses()
        .that()
        .resideOutsideOfPackage("dev.forkd.daemon.grpc..")
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage("io.grpc..", "io.netty..")
        .because("service classes are thin and everything else is testable without gRPC")
        .check(daemon);
  }

  @Test
  void theDaemonsPackagesHaveNoCycles() {
    slices().matching("dev.forkd.daemon.(*)..").should().beFreeOfCycles().check(daemon);
  }

  @Test
  void theZygoteModuleKnowsNeitherGrpcNorTheApi() {
    noClasses()
        .should()
        .dependOnClassesThat()
        .resideInAnyPackage(
            "io.grpc..",
            "io.netty..",
            "dev.forkd.api..",
            "dev.forkd.config..",
            "dev.forkd.daemon..")
        .check(zygote);
  }
}
