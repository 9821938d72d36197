package dev.tessera.samples;

import java.util.Arrays;

/** The {@code tessera} command-line tool. */
public final class TesseraCli {
    private TesseraCli() {}

    public static void main(String[] args) throws Exception {
        String command = args.length == 0 ? "help" : args[0];
        String[] rest = Arrays.copyOfRange(args, Math.min(1, args.length), args.length);
        switch (command) {
            case "demo" -> Demo.run(rest);
            case "bench" -> Bench.run(rest);
            case "conform" -> System.exit(Conform.run(rest));
            case "edit" -> Edit.run(rest);
            case "devices" -> Devices.run();
            default -> {
                System.out.println("usage: tessera <command>");
                System.out.println("  demo     generate an image and an edited image with the bundled small GauGAN");
                System.out.println("  edit     --model gaugan|ddpm --weights W --original A.png --edited B.png [--out DIR] [--set k=v]");
                System.out.println("  devices  backends and devices, best first");
                System.out.println("  conform  <case-dir>: dense and sparse outputs against a reference case (golden format)");
                System.out.println("  bench    CPU latency, dense and sparse, of GauGAN (Cityscapes) and DDPM (church-256), random weights");
                if (!command.equals("help")) System.exit(2);
            }
        }
    }
}
