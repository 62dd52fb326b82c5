"""fastloss.keras: Keras 3's loss and metric API (names, signatures, defaults, numbers), computed by fastloss."""
