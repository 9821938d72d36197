package dev.tessera;

/**
 * A backend's device failed while running: a driver or library error, or out of device memory.
 * The message names the call and the error; the session stays usable where the device does.
 */
public final class DeviceException extends TesseraException {
    private static final long serialVersionUID = 1L;

    public DeviceException(String message) {
        super(message);
    }
}
